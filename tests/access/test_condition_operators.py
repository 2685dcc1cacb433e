"""IAM's condition operators, through the evaluator: each operator both ways, missing keys,
``IfExists``, ``Null``, several values and keys, and the set qualifiers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.access.policy_documents import ROLE, when


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ({"StringEquals": {"k": "abc"}}, "abc", "allow"),
        ({"StringEquals": {"k": "abc"}}, "ABC", "implicit-deny"),
        ({"StringEqualsIgnoreCase": {"k": "abc"}}, "ABC", "allow"),
        ({"StringNotEquals": {"k": "abc"}}, "abd", "allow"),
        ({"StringNotEquals": {"k": "abc"}}, "abc", "implicit-deny"),
        ({"StringNotEqualsIgnoreCase": {"k": "abc"}}, "ABC", "implicit-deny"),
        ({"StringLike": {"k": "events/org=mitx/*"}}, "events/org=mitx/site=edx/", "allow"),
        ({"StringLike": {"k": "events/org=mitx/*"}}, "events/org=mitxpro/", "implicit-deny"),
        ({"StringLike": {"k": "a?c"}}, "abc", "allow"),
        ({"StringNotLike": {"k": "raw/*"}}, "events/", "allow"),
        ({"StringNotLike": {"k": "raw/*"}}, "raw/x", "implicit-deny"),
        ({"ArnEquals": {"k": "arn:aws:iam::1:role/a"}}, "arn:aws:iam::1:role/a", "allow"),
        ({"ArnLike": {"k": "arn:aws:iam::*:role/edx-vault/*"}}, ROLE, "allow"),
        ({"ArnLike": {"k": "arn:aws:iam::999999999999:role/*"}}, ROLE, "implicit-deny"),
        ({"ArnLike": {"k": "arn:aws:iam::111122223333:role/*"}}, "not-an-arn", "implicit-deny"),
        ({"ArnNotLike": {"k": "arn:aws:iam::*:role/edx-vault/*"}}, ROLE, "implicit-deny"),
        ({"ArnNotEquals": {"k": "arn:aws:iam::1:role/a"}}, "arn:aws:iam::1:role/b", "allow"),
        ({"NumericLessThan": {"k": 1.2}}, "1.1", "allow"),
        ({"NumericLessThan": {"k": 1.2}}, "1.3", "implicit-deny"),
        ({"NumericLessThanEquals": {"k": "3"}}, "3", "allow"),
        ({"NumericGreaterThan": {"k": "3"}}, "3", "implicit-deny"),
        ({"NumericGreaterThanEquals": {"k": "3"}}, "3", "allow"),
        ({"NumericEquals": {"k": "3"}}, "3.0", "allow"),
        ({"NumericNotEquals": {"k": "3"}}, "3", "implicit-deny"),
        ({"DateLessThan": {"k": "2027-01-01T00:00:00Z"}}, "2026-12-31T23:59:59Z", "allow"),
        ({"DateLessThan": {"k": "2027-01-01T00:00:00Z"}}, "2027-01-01T00:00:00Z", "implicit-deny"),
        ({"DateLessThanEquals": {"k": "2027-01-01T00:00:00Z"}}, "2027-01-01T00:00:00Z", "allow"),
        ({"DateGreaterThan": {"k": "2027-01-01"}}, "2027-01-01T00:00:01Z", "allow"),
        (
            {"DateGreaterThanEquals": {"k": "2027-01-01T00:00:00Z"}},
            "2026-01-01T00:00:00Z",
            "implicit-deny",
        ),
        ({"DateEquals": {"k": "1798761600"}}, "2027-01-01T00:00:00Z", "allow"),  # epoch seconds
        (
            {"DateNotEquals": {"k": "2027-01-01T00:00:00Z"}},
            "2027-01-01T00:00:00+00:00",
            "implicit-deny",
        ),
        ({"Bool": {"k": "true"}}, "true", "allow"),
        ({"Bool": {"k": True}}, "TRUE", "allow"),
        ({"Bool": {"k": "true"}}, "false", "implicit-deny"),
    ],
)
def test_each_operator_allows_and_refuses(
    condition: dict[str, Any], value: str, expected: str
) -> None:
    assert when(condition, k=value) == expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        # A positive operator on a missing key is false...
        ("StringEquals", "implicit-deny"),
        ("StringLike", "implicit-deny"),
        ("ArnLike", "implicit-deny"),
        ("DateLessThan", "implicit-deny"),
        ("Bool", "implicit-deny"),
        # ...a negated one true...
        ("StringNotEquals", "allow"),
        ("StringNotLike", "allow"),
        ("ArnNotLike", "allow"),
        # ...and any ...IfExists true.
        ("StringEqualsIfExists", "allow"),
        ("StringNotEqualsIfExists", "allow"),
        ("BoolIfExists", "allow"),
        ("DateLessThanIfExists", "allow"),
    ],
)
def test_a_missing_key(operator: str, expected: str) -> None:
    value = "2027-01-01T00:00:00Z" if "Date" in operator else "true"
    assert when({operator: {"k": value}}) == expected


def test_if_exists_still_compares_a_present_key() -> None:
    assert when({"StringEqualsIfExists": {"k": "a"}}, k="b") == "implicit-deny"
    assert when({"StringEqualsIfExists": {"k": "a"}}, k="a") == "allow"


def test_null_checks_presence() -> None:
    assert when({"Null": {"k": "true"}}) == "allow"
    assert when({"Null": {"k": "true"}}, k="x") == "implicit-deny"
    assert when({"Null": {"k": "false"}}, k="x") == "allow"
    assert when({"Null": {"k": "false"}}) == "implicit-deny"


def test_several_values_of_one_key_are_alternatives() -> None:
    condition = {"StringLike": {"k": ["events/*", "database/*"]}}
    assert when(condition, k="database/x") == "allow"
    assert when(condition, k="raw/x") == "implicit-deny"
    # A negated operator must match none of them.
    negated = {"StringNotLike": {"k": ["events/*", "database/*"]}}
    assert when(negated, k="raw/x") == "allow"
    assert when(negated, k="events/x") == "implicit-deny"


def test_several_keys_and_several_operators_must_all_hold() -> None:
    condition = {
        "StringEquals": {"a": "1", "b": "2"},
        "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
    }
    good = {"a": "1", "b": "2", "aws:CurrentTime": "2026-01-01T00:00:00Z"}
    assert when(condition, **good) == "allow"
    assert when(condition, **{**good, "b": "3"}) == "implicit-deny"
    assert when(condition, **{**good, "aws:CurrentTime": "2028-01-01T00:00:00Z"}) == "implicit-deny"


def test_context_keys_are_case_insensitive_and_values_are_not() -> None:
    assert (
        when({"StringEquals": {"aws:PrincipalArn": ROLE}}, **{"AWS:principalarn": ROLE}) == "allow"
    )
    assert when({"StringEquals": {"k": "Abc"}}, k="abc") == "implicit-deny"


def test_set_qualifiers_on_multivalued_keys() -> None:
    any_value = {"ForAnyValue:StringEquals": {"tags": ["a", "b"]}}
    all_values = {"ForAllValues:StringEquals": {"tags": ["a", "b"]}}
    assert when(any_value, tags=["c", "b"]) == "allow"
    assert when(any_value, tags=["c", "d"]) == "implicit-deny"
    assert when(any_value) == "implicit-deny"  # missing: ForAnyValue is false
    assert when(all_values, tags=["a", "b"]) == "allow"
    assert when(all_values, tags=["a", "c"]) == "implicit-deny"
    assert when(all_values) == "allow"  # missing: ForAllValues is (vacuously) true
    assert when({"ForAllValues:StringNotLike": {"tags": "x*"}}, tags=["a", "b"]) == "allow"
    assert when({"ForAnyValue:StringNotLike": {"tags": "x*"}}, tags=["x1", "x2"]) == "implicit-deny"
