"""Event types as JSON: the workspace keeps the types it last ran with in ``types.json`` so
``nbflow emit`` can validate values without loading (or even having) the YAML config."""

from __future__ import annotations

from typing import Any

from .model import MISSING, EventType, Var
from .values import to_json_value


def types_to_json(event_types) -> dict[str, Any]:
    out = {}
    for et in event_types:
        out[et.name] = {"vars": [
            {"name": v.name, "type": v.type,
             "choices": None if v.choices is None else [to_json_value(c) for c in v.choices],
             "min": to_json_value(v.min), "max": to_json_value(v.max), "regex": v.regex,
             **({"default": to_json_value(v.default)} if v.has_default else {})}
            for v in et.vars]}
    return {"version": 1, "types": out}


def types_from_json(data: dict[str, Any]) -> list[EventType]:
    types = []
    for name, body in data.get("types", {}).items():
        vars_ = []
        for v in body["vars"]:
            bare = Var(v["name"], v["type"])
            conv = bare.validate
            vars_.append(Var(
                v["name"], v["type"],
                choices=None if v.get("choices") is None else tuple(conv(c) for c in v["choices"]),
                min=None if v.get("min") is None else conv(v["min"]),
                max=None if v.get("max") is None else conv(v["max"]),
                regex=v.get("regex"),
                default=conv(v["default"]) if "default" in v and v["default"] is not None
                else (None if "default" in v else MISSING)))
        types.append(EventType(name, tuple(vars_)))
    return types
