"""Python tasks of configs/demo.yaml: called by nbflow as ``demo_tasks:summarize``."""

import pandas as pd


def summarize(event, ctx):
    """Daily returns and summary statistics of the fetched prices, published as a dataset."""
    prices = pd.read_csv(ctx.workdir / "prices.csv", parse_dates=["date"])
    prices["return"] = prices["close"].pct_change()
    stats = prices.agg({"close": ["min", "max", "mean"], "return": ["mean", "std"]})
    (ctx.workdir / "rows.txt").write_text(str(len(prices)))
    ctx.publish(prices, kind="dataset", name="returns.parquet")
    return {"rows": len(prices), "mean_close": round(float(stats.loc["mean", "close"]), 2)}
