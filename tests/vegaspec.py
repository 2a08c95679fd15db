"""Reading Altair charts back from their Vega-Lite spec (``chart.to_dict()``)."""
from __future__ import annotations

import pandas as pd


def data_of(spec: dict, view: dict) -> pd.DataFrame:
    """The rows a view (the spec itself, or one of its layers or stacked views) draws: named dataset or inline
    values; a view without data of its own draws the spec's."""
    data = view.get("data", spec.get("data"))
    records = spec["datasets"][data["name"]] if "name" in data else data["values"]
    return pd.DataFrame(records)


def tooltip_fields(enc: dict) -> list[str]:
    return [t["field"] if isinstance(t, dict) else t.split(":")[0] for t in enc["tooltip"]]


def mark_type(view: dict) -> str:
    return view["mark"]["type"] if isinstance(view["mark"], dict) else view["mark"]
