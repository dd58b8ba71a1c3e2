"""Var types and rules: conversions from CLI strings and Python values, EventType.validate, str(event)."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.errors import ValidationError
from nbflow.spec.model import Event, EventType, Var
from nbflow.spec.values import VAR_TYPES, convert, format_value

UTC = dt.UTC


@pytest.mark.parametrize(("var_type", "raw", "expected"), [
    ("str", "us", "us"),
    ("str", 5, "5"),
    ("str", True, "true"),
    ("str", dt.date(2024, 1, 2), "2024-01-02"),
    ("int", "42", 42),
    ("int", " -7 ", -7),
    ("int", 3, 3),
    ("int", 3.0, 3),
    ("float", "1.5", 1.5),
    ("float", 2, 2.0),
    ("bool", "yes", True),
    ("bool", "False", False),
    ("bool", "0", False),
    ("bool", 1, True),
    ("date", "2024-03-01", dt.date(2024, 3, 1)),
    ("date", dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
    ("datetime", "2024-03-01T10:00:00+01:00", dt.datetime(2024, 3, 1, 9, 0, tzinfo=UTC)),
    ("datetime", "2024-03-01T10:00Z", dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)),
    ("datetime", "2024-03-01 10:00", dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)),   # naive: UTC
    ("datetime", dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, tzinfo=UTC)),
])
def test_convert_from_cli_strings_and_python_values(var_type, raw, expected):
    assert convert(var_type, raw, "v") == expected


@pytest.mark.parametrize(("var_type", "raw", "fragment"), [
    ("int", "4.5", "expected an integer"),
    ("int", True, "got a boolean"),
    ("int", 4.5, "expected an integer"),
    ("float", "abc", "expected a number"),
    ("float", False, "got a boolean"),
    ("float", "nan", "got NaN"),
    ("float", float("nan"), "got NaN"),
    ("bool", "maybe", "expected a boolean"),
    ("bool", 2, "expected a boolean"),
    ("date", "2024-13-01", "expected a date as YYYY-MM-DD"),
    ("date", dt.datetime(2024, 1, 1), "got a datetime"),
    ("datetime", "yesterday", "expected a datetime"),
    ("str", [1, 2], "expected a string"),
])
def test_convert_errors_name_the_var_and_rule_type(var_type, raw, fragment):
    with pytest.raises(ValidationError) as info:
        convert(var_type, raw, "horizon")
    assert info.value.var == "horizon"
    assert info.value.rule == "type"
    assert "var 'horizon'" in str(info.value)
    assert fragment in str(info.value)


def test_every_var_type_has_a_converter():
    assert VAR_TYPES == ("str", "int", "float", "bool", "date", "datetime")
    for var_type in VAR_TYPES:
        assert convert(var_type, format_value(convert(var_type, _sample(var_type), "v")), "v") == \
            convert(var_type, _sample(var_type), "v")


def _sample(var_type):
    return {"str": "x", "int": 3, "float": 0.25, "bool": True, "date": dt.date(2024, 2, 29),
            "datetime": dt.datetime(2024, 2, 29, 12, 30, tzinfo=UTC)}[var_type]


@pytest.mark.parametrize(("var", "value", "rule", "fragment"), [
    (Var("region", choices=("us", "eu")), "asia", "choices", "is not one of the choices [us, eu]"),
    (Var("horizon", "int", min=1, max=30), 0, "min", "0 is below the min 1"),
    (Var("horizon", "int", min=1, max=30), "31", "max", "31 is above the max 30"),
    (Var("asof", "date", min=dt.date(2024, 1, 1)), "2023-12-31", "min", "below the min 2024-01-01"),
    (Var("code", regex=r"[A-Z]{3}"), "usd", "regex", "does not match the regex"),
    (Var("year", "int", regex=r"\d{4}"), 123, "regex", "does not match"),
    (Var("ratio", "float", max=1.0), 1.5, "max", "above the max 1.0"),
])
def test_var_rules_name_the_var_and_rule(var, value, rule, fragment):
    with pytest.raises(ValidationError) as info:
        var.validate(value)
    assert (info.value.var, info.value.rule) == (var.name, rule)
    assert f"var {var.name!r}" in str(info.value)
    assert fragment in str(info.value)


def test_var_rules_accept_values_within_them():
    assert Var("horizon", "int", min=1, max=30).validate("30") == 30
    assert Var("region", choices=("us", "eu")).validate("eu") == "eu"
    assert Var("code", regex=r"[A-Z]{3}").validate("USD") == "USD"
    assert Var("n", "int", choices=(1, 2)).validate("2") == 2


PRICE = EventType("price", vars=(
    Var("region", choices=("us", "eu", "asia")),
    Var("asof", "date"),
    Var("horizon", "int", min=1, max=30, default=5),
))


def test_event_type_validate_converts_orders_and_applies_defaults():
    values = PRICE.validate({"asof": "2024-05-01", "region": "eu"})
    assert values == {"region": "eu", "asof": dt.date(2024, 5, 1), "horizon": 5}
    assert list(values) == ["region", "asof", "horizon"]
    assert PRICE.validate({"region": "us", "asof": dt.date(2024, 5, 1), "horizon": "7"})["horizon"] == 7


@pytest.mark.parametrize(("values", "var", "rule", "fragment"), [
    ({"region": "us"}, "asof", "required", "var 'asof' (date) is required"),
    ({"region": "us", "asof": "2024-05-01", "horizn": 3}, "horizn", "unknown", "did you mean 'horizon'?"),
    ({"region": "mars", "asof": "2024-05-01"}, "region", "choices", "not one of the choices"),
    ({"region": "us", "asof": "May 1st"}, "asof", "type", "expected a date"),
    ({"region": "us", "asof": "2024-05-01", "horizon": 99}, "horizon", "max", "above the max 30"),
])
def test_event_type_validate_errors(values, var, rule, fragment):
    with pytest.raises(ValidationError) as info:
        PRICE.validate(values)
    assert (info.value.var, info.value.rule, info.value.event_type) == (var, rule, "price")
    assert fragment in str(info.value)


def test_unknown_var_error_lists_the_vars():
    with pytest.raises(ValidationError, match="its vars: region, asof, horizon"):
        PRICE.validate({"nope": 1})


def test_str_of_an_event_is_type_and_values_in_var_order():
    values = PRICE.validate({"asof": "2024-05-01", "region": "us"})
    event = Event(PRICE, "20240501T000000-0001", values)
    assert str(event) == "price:us,2024-05-01,5"
    flags = EventType("f", vars=(Var("on", "bool"), Var("x", "float"), Var("t", "datetime")))
    values = flags.validate({"on": "yes", "x": "2", "t": "2024-01-01T00:00:00+00:00"})
    assert str(Event(flags, "k", values)) == "f:true,2.0,2024-01-01T00:00:00+00:00"
