"""Made-up sales of one store (the `extract` command task of configs/notebooks_demo.yaml).

    python make_sales.py --store north --days 14 --out sales.csv

Deterministic for a store and a number of days. Store `west` is closed for works: its CSV has
a header and no rows, which the `summarise` notebook refuses (a failure to find in history).
"""

import argparse
import csv
import datetime as dt
import random

PRODUCTS = ("tea", "coffee", "cake", "juice")
CLOSED = {"west"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(f"{args.store}/{args.days}")
    end = dt.date.today()
    rows = 0
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["date", "store", "product", "amount"])
        if args.store not in CLOSED:
            for back in range(args.days, 0, -1):
                day = end - dt.timedelta(days=back)
                for product in PRODUCTS:
                    writer.writerow([day.isoformat(), args.store, product, round(rng.uniform(20, 200), 2)])
                    rows += 1
    print(f"{rows} sales rows for {args.store} over {args.days} days -> {args.out}")


if __name__ == "__main__":
    main()
