"""The flow of `report_ready`: say what arrived."""

import sys

print(f"report ready for region {sys.argv[1]} ({sys.argv[2]} rows)")
