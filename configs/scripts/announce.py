"""Join of the demo flow: read what `stats` left, and emit a `report_ready` event."""

import argparse
import os
import pathlib
import subprocess

parser = argparse.ArgumentParser()
parser.add_argument("--region", required=True)
args = parser.parse_args()
rows = pathlib.Path(os.environ["NBFLOW_WORKDIR"], "rows.txt").read_text().strip()
report = subprocess.run(["nbflow", "artifact", "report.html"], capture_output=True, text=True, check=True)
print(f"report for {args.region} is at {report.stdout.strip()}")
# nbflow records this run (NBFLOW_RUN_ID) as the parent of the new event.
subprocess.run(["nbflow", "emit", "report_ready", f"region={args.region}", f"rows={rows}"], check=True)
