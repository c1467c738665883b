"""Property: a generated model accepts exactly the instances jsonschema accepts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from .modelkit import build, obj

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0.0, 1.0, 2.0, 2.5, -1.5, 5.5, 1e20, 0.75, 10**30]),
    st.floats(-20, 20, allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "a", "ab", "abc", "b-1", "1", "x-rate", "cat", "dog", "big", "名"]),
    st.text(alphabet="abc-1", max_size=4),
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "scalars": obj(
        {
            "s": {"type": "string", "minLength": 1, "maxLength": 3, "pattern": "^[a-c]"},
            "i": {"type": "integer", "minimum": 0, "maximum": 10, "multipleOf": 2},
            "n": {"type": "number", "exclusiveMinimum": -1, "maximum": 5.5},
            "b": {"type": "boolean"},
            "e": {"enum": [1, "a", None, True, 2.5]},
            "c": {"const": 0},
            "nullable": {"type": ["integer", "string", "null"], "maxLength": 2, "minimum": 1},
            "per-page": {"type": "integer", "exclusiveMaximum": 3.5},
        },
        ["s"],
    ),
    "collections": obj(
        {
            "arr": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 1,
                "uniqueItems": True,
            },
            "o": {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "array"}},
                "required": ["a"],
                "additionalProperties": {"type": "integer"},
            },
            "closed": {
                "type": "object",
                "properties": {"a": {"type": ["string", "integer"]}},
                "additionalProperties": False,
            },
            "dict": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "maxProperties": 2,
            },
            "tuple": {
                "type": "array",
                "prefixItems": [{"type": "string"}],
                "items": {"type": "integer"},
            },
            "pp": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "patternProperties": {"^x-": {"type": "integer"}},
                "additionalProperties": False,
            },
        }
    ),
    "composition": obj(
        {
            "any": {
                "anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 3}]
            },
            "one": {"oneOf": [{"type": "integer"}, {"type": "number", "maximum": 2}]},
            "not": {"not": {"enum": [1, "a"]}},
            "all": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "integer"}}},
                    {"required": ["a"]},
                ]
            },
            "cond": {
                "if": {"type": "string"},
                "then": {"minLength": 2},
                "else": {"type": "integer"},
            },
            "pet": {"oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]},
        },
        **{
            "$defs": {
                "Cat": {
                    "type": "object",
                    "properties": {"kind": {"const": "cat"}, "a": {"type": "integer"}},
                    "required": ["kind"],
                },
                "Dog": {
                    "type": "object",
                    "properties": {"kind": {"enum": ["dog"]}},
                    "required": ["kind"],
                    "additionalProperties": False,
                },
            }
        },
    ),
    "recursive": obj(
        {"tree": {"$ref": "#/$defs/Node"}, "json": {"$ref": "#/$defs/Json"}},
        **{
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "a": {"type": "integer"},
                        "b": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    },
                    "additionalProperties": False,
                },
                "Json": {
                    "anyOf": [
                        {"type": ["string", "integer", "null"]},
                        {"type": "array", "items": {"$ref": "#/$defs/Json"}},
                        {"type": "object", "additionalProperties": {"$ref": "#/$defs/Json"}},
                    ]
                },
            }
        },
    ),
}


def property_names(node: Any) -> set[str]:
    """Every property name in a schema, so generated objects hit them."""
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                names.update(value)
            names |= property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= property_names(value)
    return names


# Valid values per property, mixed into the random ones so that whole instances are
# often valid too.
GOOD: dict[str, list[Any]] = {
    "s": ["a", "bc"],
    "i": [0, 4, 10.0],
    "n": [0, 5.5, -0.5],
    "b": [True],
    "e": [1, "a", None, True, 2.5],
    "c": [0, 0.0],
    "nullable": [None, 1, "ab"],
    "per-page": [3, -7],
    "arr": [[1], [1, 2]],
    "o": [{"a": "x"}, {"a": "y", "b": [], "n": 1}],
    "closed": [{}, {"a": 1}, {"a": "s"}],
    "dict": [{}, {"k": "v"}],
    "tuple": [[], ["a"], ["a", 1, 2]],
    "pp": [{"a": 1, "x-rate": 2}, {}],
    "any": ["ab", 3],
    "one": [1.5, 7],
    "not": [2, "b", None],
    "all": [{"a": 1}, {"a": 2, "b": "x"}],
    "cond": ["ab", 3],
    "pet": [{"kind": "cat", "a": 1}, {"kind": "dog"}],
    "tree": [{}, {"a": 1, "b": [{"a": 2, "b": []}]}],
    "json": [[1, {"a": None}], "x"],
}


def instances(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = sorted(property_names(schema) | {"zzz", "x-1", "kind"})
    values = st.recursive(
        SCALARS | st.sampled_from(["cat", "dog"]).map(lambda k: {"kind": k}),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(keys), inner, max_size=3)
        ),
        max_leaves=10,
    )
    top = sorted(schema["properties"])

    def mostly(
        good: st.SearchStrategy[Any], other: st.SearchStrategy[Any]
    ) -> st.SearchStrategy[Any]:
        # Three parts ``good`` to one part ``other``.
        return st.integers(0, 3).flatmap(lambda k: other if k == 0 else good)

    per_property = {name: mostly(st.sampled_from(GOOD[name]), values) for name in top}
    required = {name: per_property[name] for name in schema.get("required", [])}
    optional = {name: per_property[name] for name in top if name not in required}
    return mostly(
        st.fixed_dictionaries(required, optional=optional),
        st.dictionaries(st.sampled_from([*top, "zzz"]), values, max_size=3),
    )


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_model_accepts_exactly_what_jsonschema_accepts(name: str) -> None:
    schema = SCHEMAS[name]
    model = build(schema)
    validator = Draft202012Validator(schema)
    outcomes: list[bool] = []

    @settings(
        max_examples=400,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(instances(schema))
    def check(instance: dict[str, Any]) -> None:
        expected = validator.is_valid(instance)
        try:
            arguments = model.model_validate(instance).to_arguments()
        except ValidationError:
            accepted = False
        else:
            accepted = True
            # What is sent upstream is still valid, and equal as JSON values.
            assert validator.is_valid(arguments)
            assert arguments == instance
        assert accepted == expected, instance
        outcomes.append(expected)

    check()
    # The generated instances exercise both sides of the property.
    assert outcomes.count(True) >= 20 and outcomes.count(False) >= 20, outcomes.count(True)
