"""Example script for configs/etl.yaml: writes made-up FX rates to a CSV file."""

import argparse
import csv
import random

parser = argparse.ArgumentParser()
parser.add_argument("--base", default="EUR")
parser.add_argument("--asof")
parser.add_argument("--out")
parser.add_argument("--archive")
parser.add_argument("--tag")
args = parser.parse_args()

if args.archive:
    print(f"archived {args.archive} as {args.tag}")
else:
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["asof", "base", "quote", "rate"])
        for quote in ("USD", "GBP", "JPY"):
            writer.writerow([args.asof, args.base, quote, round(random.uniform(0.5, 150), 4)])
    print(f"wrote {args.out}")
