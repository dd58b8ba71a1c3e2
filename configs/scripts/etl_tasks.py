"""Example Python tasks for configs/etl.yaml (the ``python`` runner imports from the config's folder)."""


def publish(event, ctx):
    """Publish the rates file of this event as a dataset artifact."""
    path = ctx.workdir / "rates.csv"
    if path.exists():
        ctx.publish(path, kind="dataset", name="rates.csv")
    print(f"published rates of {event}")
