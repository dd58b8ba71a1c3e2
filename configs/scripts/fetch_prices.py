"""Write a synthetic price series (a seeded random walk) as CSV: the demo's data source."""

import argparse
import csv
import datetime as dt
import random

parser = argparse.ArgumentParser()
parser.add_argument("--region", required=True)
parser.add_argument("--days", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

rng = random.Random(args.region)
start = dt.date(2026, 1, 1)
price = {"us": 100.0, "eu": 80.0, "asia": 60.0}.get(args.region, 50.0)
with open(args.out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["date", "region", "close"])
    for day in range(args.days):
        price *= 1 + rng.gauss(0.0005, 0.01)
        writer.writerow([start + dt.timedelta(days=day), args.region, round(price, 2)])
print(f"wrote {args.days} prices for {args.region} to {args.out}")
