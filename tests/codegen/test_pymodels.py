"""Input models rendered from JSON Schemas: validation behaves like the schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from fastn_gen.codegen.pymodels import ModelSource, SchemaError, render_model_builder
from fastn_gen.runtime.operation import NestedInput, ToolInput, schema_check

from .modelkit import build, obj


def errors(model: type[ToolInput], data: Any) -> list[tuple[tuple[Any, ...], str]] | None:
    """``None`` when ``data`` is accepted, else the (loc, msg) of every error."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
    return None


def locs(model: type[ToolInput], data: Any) -> set[tuple[Any, ...]]:
    found = errors(model, data)
    assert found is not None, f"accepted {data!r}"
    return {loc for loc, _ in found}


def first_locs(model: type[ToolInput], data: Any) -> set[Any]:
    return {loc[0] for loc in locs(model, data)}


def agrees(schema: dict[str, Any], model: type[ToolInput], data: Any) -> bool:
    """Pydantic and jsonschema accept or reject ``data`` together."""
    return bool(Draft202012Validator(schema).is_valid(data)) == (errors(model, data) is None)


# -- the rendered source ----------------------------------------------------------------


def test_names_and_imports() -> None:
    src = render_model_builder(
        "slack_send_message",
        obj(
            {"channel": {"type": "string"}, "meta": {"type": "object", "properties": {}}},
            ["channel"],
        ),
    )
    assert isinstance(src, ModelSource)
    assert src.function_name == "_build_slack_send_message"
    assert src.source.startswith("def _build_slack_send_message() -> type[ToolInput]:\n")
    assert "class SlackSendMessageInput(ToolInput):" in src.source
    assert src.source.endswith("return SlackSendMessageInput")
    assert "from fastn_gen.runtime.operation import ToolInput" in src.imports
    assert "from pydantic import StrictStr" in src.imports
    assert all(re.fullmatch(r"(from [\w.]+ )?import \w+", line) for line in src.imports)


def test_nested_and_def_class_names() -> None:
    schema = obj(
        {
            "attachment": {"type": "object", "properties": {"title": {"type": "string"}}},
            "blocks": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}},
            "user": {"$ref": "#/$defs/user-profile"},
        },
        **{"$defs": {"user-profile": {"type": "object", "properties": {"id": {}}}}},
    )
    source = render_model_builder("slack_send_message", schema).source
    assert "class SlackSendMessageInputAttachment(NestedInput):" in source
    assert "class SlackSendMessageInputBlocksItem(NestedInput):" in source
    assert "class UserProfile(NestedInput):" in source


def test_definition_names_that_are_python_names() -> None:
    names = [
        "None",
        "class",
        "Any",
        "Field",
        "ToolInput",
        "list",
        "2fa",
        "",
        "a/b~c",
        "名前",
        "x%y",
    ]
    defs: dict[str, Any] = {
        n: {"type": "object", "properties": {"v": {"type": "integer"}}} for n in names
    }
    defs["Field"] = {"type": "string"}

    def pointer(name: str) -> str:
        return "#/$defs/" + name.replace("~", "~0").replace("/", "~1").replace("%", "%25")

    schema = obj({f"p{i}": {"$ref": pointer(n)} for i, n in enumerate(names)}, **{"$defs": defs})
    model = build(schema)
    data: dict[str, Any] = {f"p{i}": {"v": i} for i in range(len(names))}
    data["p3"] = "field"
    assert model.model_validate(data).to_arguments() == data
    assert first_locs(model, {"p0": {"v": "x"}}) == {"p0"}
    assert agrees(schema, model, data)


def test_output_is_deterministic() -> None:
    schema = obj(
        {
            "b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/N"}]},
            "a": {"not": {"const": 1}, "description": "d" * 500},
        },
        **{"$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}}},
    )
    first = render_model_builder("t", schema)
    assert render_model_builder("t", schema) == first
    # Property order is the schema's.
    assert first.source.index("        b:") < first.source.index("        a:")


def test_long_descriptions_are_split_into_short_literals() -> None:
    text = "word " * 200 + 'it\'s "quoted" \\ and\nnew line'
    src = render_model_builder("t", obj({"a": {"type": "string", "description": text}}))
    assert max(len(line) for line in src.source.splitlines()) < 100
    model = build(obj({"a": {"type": "string", "description": text}}))
    assert model.model_fields["a"].description == text


# -- required, types, strictness --------------------------------------------------------


KINDS = obj(
    {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "n": {"type": "number"},
        "b": {"type": "boolean"},
        "z": {"type": "null"},
        "arr": {"type": "array", "items": {"type": "integer"}},
        "o": {"type": "object"},
        "anything": {},
    },
    ["s"],
)


def test_required_missing_names_the_field() -> None:
    model = build(KINDS)
    assert errors(model, {}) == [(("s",), "Field required")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("s", 5),
        ("s", True),
        ("s", None),
        ("i", "5"),
        ("i", True),
        ("i", 5.5),
        ("i", None),
        ("n", "1.5"),
        ("n", False),
        ("b", 1),
        ("b", "true"),
        ("z", 0),
        ("arr", "1,2"),
        ("arr", [1, "2"]),
        ("o", [1]),
        ("o", "{}"),
    ],
)
def test_wrong_json_types_are_rejected_at_the_field(field: str, value: Any) -> None:
    model = build(KINDS)
    data = {"s": "x", field: value}
    assert first_locs(model, data) == {field}
    assert agrees(KINDS, model, data)


def test_json_values_are_kept_as_sent() -> None:
    model = build(KINDS)
    data = {"s": "x", "i": 5.0, "n": 5, "b": False, "z": None, "arr": [1, 2.0], "o": {"k": [1]}}
    out = model.model_validate(data).to_arguments()
    assert out == {"s": "x", "i": 5, "n": 5, "b": False, "z": None, "arr": [1, 2], "o": {"k": [1]}}
    assert type(out["n"]) is int and type(out["i"]) is int
    assert type(model.model_validate({"s": "x", "n": 2.5}).to_arguments()["n"]) is float
    assert model.model_validate({"s": "x", "anything": {"a": [None]}}).to_arguments() == {
        "s": "x",
        "anything": {"a": [None]},
    }


def test_unset_arguments_are_not_sent_and_explicit_null_needs_null_type() -> None:
    schema = obj({"a": {"type": "string"}, "b": {"type": ["string", "null"]}})
    model = build(schema)
    assert model.model_validate({}).to_arguments() == {}
    assert model.model_validate({"b": None}).to_arguments() == {"b": None}
    assert first_locs(model, {"a": None}) == {"a"}


def test_extra_keys_are_refused_at_top_level() -> None:
    model = build(obj({"a": {"type": "string"}}))
    assert errors(model, {"a": "x", "b": 1}) == [(("b",), "Extra inputs are not permitted")]


def test_top_level_without_additional_properties_false_is_open() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    model = build(schema)
    assert issubclass(model, NestedInput)
    assert model.model_validate({"a": 1, "b": [2]}).to_arguments() == {"a": 1, "b": [2]}
    assert first_locs(model, {"a": "1"}) == {"a"}


# -- names ------------------------------------------------------------------------------

WEIRD = [
    "per-page",
    "X-Api-Version",
    "$filter",
    "class",
    "model_id",
    "model_config",
    "schema",
    "json",
    "copy",
    "dict",
    "list",
    "str",
    "Field",
    "re",
    "to_arguments",
    "2fa",
    "_private",
    "__dunder__",
    "id__path",
    "id_path",
    "名前",
    "naïve",
    "",
    "a b",
    "l",
    "per_page",
    "type",
]


def test_weird_argument_names_round_trip_through_aliases() -> None:
    schema = obj({name: {"type": "integer"} for name in WEIRD}, WEIRD[:3])
    model = build(schema)
    data = {name: i for i, name in enumerate(WEIRD)}
    assert model.model_validate(data).to_arguments() == data
    idents = list(model.model_fields)
    assert len(set(idents)) == len(WEIRD)
    assert all(i.isidentifier() and i.isascii() and not i.startswith("_") for i in idents)
    assert errors(model, {**data, "per-page": "x"}) is not None


def test_python_names_are_not_accepted_as_argument_names() -> None:
    model = build(obj({"per-page": {"type": "integer"}, "class": {"type": "string"}}))
    assert first_locs(model, {"per_page": 2}) == {"per_page"}
    assert first_locs(model, {"class_": "x"}) == {"class_"}
    assert model.model_validate({"per-page": 2}).to_arguments() == {"per-page": 2}


def test_field_names_do_not_shadow_names_used_in_annotations() -> None:
    schema = obj(
        {
            "list": {"type": "array", "items": {"type": "string"}},
            "dict": {"type": "object", "additionalProperties": {"type": "string"}},
            "str": {"type": "string", "pattern": "^a"},
            "re": {"type": "string", "pattern": "b$"},
            "Item": {"$ref": "#/$defs/Item"},
        },
        **{"$defs": {"Item": {"type": "object", "properties": {"Item": {"type": "integer"}}}}},
    )
    model = build(schema)
    data = {"list": ["a"], "dict": {"k": "v"}, "str": "ax", "re": "xb", "Item": {"Item": 1}}
    assert model.model_validate(data).to_arguments() == data
    assert first_locs(model, {"re": "bx"}) == {"re"}


# -- enums and constants ----------------------------------------------------------------


def test_string_enum() -> None:
    model = build(obj({"state": {"type": "string", "enum": ["open", "closed"]}}))
    assert model.model_validate({"state": "open"}).to_arguments() == {"state": "open"}
    assert first_locs(model, {"state": "merged"}) == {"state"}
    assert first_locs(model, {"state": 1}) == {"state"}


@pytest.mark.parametrize(
    ("prop", "good", "bad"),
    [
        ({"enum": [1, 2, 3]}, [1, 2.0], [True, "1", 4, 1.5]),
        ({"const": True}, [True], [1, "true", False]),
        ({"const": 0}, [0, 0.0], [False, None]),
        ({"enum": [1, "a", None, True]}, [1, "a", None, True, 1.0], [False, "b", 2, "1"]),
        ({"type": "string", "enum": ["a", 1, None]}, ["a"], [1, None]),
        ({"type": ["integer", "null"], "enum": [1, None, "x"]}, [1, None], ["x", 2]),
        ({"enum": [0.5, 1.5]}, [0.5], [0.25, "0.5"]),
        ({"enum": [[1, 2], {"a": 1}]}, [[1, 2], {"a": 1}], [[2, 1], {"a": 2}]),
        ({"type": "string", "enum": ["ab", "abc"], "maxLength": 2}, ["ab"], ["abc"]),
        ({"const": "x", "enum": ["x", "y"]}, ["x"], ["y"]),
        ({"type": "number", "enum": ["a"]}, [], ["a", 1]),
    ],
)
def test_enums_and_constants(prop: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    schema = obj({"v": prop})
    model = build(schema)
    for value in good:
        assert errors(model, {"v": value}) is None, value
        assert agrees(schema, model, {"v": value})
    for value in bad:
        assert first_locs(model, {"v": value}) == {"v"}, value
        assert agrees(schema, model, {"v": value})


# -- constraints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "good", "bad"),
    [
        ({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "日本語"], ["a", "abcd"]),
        ({"type": "string", "pattern": "^[a-z]+-\\d+$"}, ["ab-1"], ["AB-1", "ab-"]),
        ({"type": "string", "pattern": "\\d"}, ["a1b"], ["abc"]),  # search, not match
        ({"type": "string", "pattern": "(?<=a)b"}, ["ab"], ["cb"]),
        ({"type": "integer", "minimum": 1.5, "exclusiveMaximum": 4}, [2, 3], [1, 4]),
        ({"type": "integer", "exclusiveMinimum": 0, "maximum": 9.5}, [1, 9], [0, 10]),
        ({"type": "integer", "multipleOf": 3}, [0, 9, -3], [4]),
        ({"type": "integer", "multipleOf": 0.5}, [3], []),
        ({"type": "number", "multipleOf": 0.25}, [0.75, 1], [0.3]),
        ({"type": "number", "minimum": 0.5, "maximum": 2}, [1, 0.5, 2.0], [0, 0.49, 3]),
        ({"type": "number", "exclusiveMinimum": 0}, [1e-9, 1], [0, -1, 0.0]),
        ({"type": "array", "minItems": 1, "maxItems": 2}, [[1], [1, "a"]], [[], [1, 2, 3]]),
        ({"type": "array", "uniqueItems": True}, [[1, "1", True]], [[1, 1], [{"a": 1}, {"a": 1}]]),
        ({"type": "object", "minProperties": 1, "maxProperties": 1}, [{"a": 1}], [{}]),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, [{"a": 1}], [{"a": "1"}]),
        ({"type": "string", "format": "email"}, ["not an email"], [1]),
    ],
)
def test_constraints(prop: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    schema = obj({"v": prop})
    model = build(schema)
    for value in good:
        assert errors(model, {"v": value}) is None, value
    for value in bad:
        assert first_locs(model, {"v": value}) == {"v"}, value
    for value in good + bad:
        assert agrees(schema, model, {"v": value}), value


def test_a_pattern_python_cannot_compile_is_ignored() -> None:
    model = build(obj({"v": {"type": "string", "pattern": "\\p{L}+"}}))
    assert errors(model, {"v": "123"}) is None
    assert first_locs(model, {"v": 1}) == {"v"}
    checked = {
        "type": "object",
        "patternProperties": {"\\p{L}": {"type": "string"}, "^n": {"type": "integer"}},
        "propertyNames": {"pattern": "\\p{N}", "maxLength": 3},
    }
    model = build(obj({"v": checked}))
    assert errors(model, {"v": {"abc": 1, "n": 2}}) is None
    assert first_locs(model, {"v": {"n": "x"}}) == {"v"}
    assert first_locs(model, {"v": {"abcd": 1}}) == {"v"}


# -- objects and arrays -----------------------------------------------------------------


NESTED = obj(
    {
        "closed": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
            "required": ["a"],
            "additionalProperties": False,
        },
        "open": {"type": "object", "properties": {"a": {"type": "string"}}},
        "typed": {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "tags": {"type": "array"}},
                "required": ["name"],
            },
        },
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
    }
)


def test_nested_objects() -> None:
    model = build(NESTED)
    assert locs(model, {"closed": {"b": 1}}) == {("closed", "a")}
    assert locs(model, {"closed": {"a": "x", "c": 1}}) == {("closed", "c")}
    assert locs(model, {"closed": {"a": "x", "b": "1"}}) == {("closed", "b")}
    assert locs(model, {"typed": {"a": "x", "n": "1"}}) == {("typed", "n")}
    data = {
        "closed": {"a": "x"},
        "open": {"a": "y", "extra": {"deep": [1]}},
        "typed": {"a": "z", "n": 3},
    }
    assert model.model_validate(data).to_arguments() == data


def test_arrays_of_objects_report_the_item_path() -> None:
    model = build(NESTED)
    data = {"rows": [{"name": "a"}, {"name": 2}, {"tags": []}], "grid": [[1, 2.5], [3]]}
    assert locs(model, data) == {("rows", 1, "name"), ("rows", 2, "name")}
    good = {"rows": [{"name": "a", "x": 1}], "grid": [[1, 2.5], []]}
    assert model.model_validate(good).to_arguments() == good
    assert first_locs(model, {"grid": [[1, "2"]]}) == {"grid"}


def test_required_names_without_a_property_schema() -> None:
    schema = obj({"a": {"type": "string"}}, ["a", "b"])
    model = build(schema)
    assert errors(model, {"a": "x"}) is not None  # b is required but cannot be given
    schema = {"type": "object", "properties": {"a": {}}, "required": ["b"]}
    model = build(schema)
    assert errors(model, {"a": 1}) is not None
    assert model.model_validate({"b": 2}).to_arguments() == {"b": 2}


# -- recursion --------------------------------------------------------------------------

TREE = obj(
    {"root": {"$ref": "#/$defs/Node"}},
    ["root"],
    **{
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["value"],
                "additionalProperties": False,
            }
        }
    },
)


def tree(depth: int) -> dict[str, Any]:
    return {"value": depth, "children": [tree(depth - 1)] if depth else []}


def test_recursive_definitions_validate_deep_data() -> None:
    model = build(TREE)
    data = {"root": tree(5)}
    assert model.model_validate(data).to_arguments() == data
    bad = tree(5)
    leaf = bad["children"][0]["children"][0]["children"][0]["children"][0]["children"][0]
    leaf["value"] = "zero"
    path = ("root", "children", 0, "children", 0, "children", 0, "children", 0, "children", 0)
    assert locs(model, {"root": bad}) == {(*path, "value")}
    leaf["value"], leaf["extra"] = 0, True
    assert locs(model, {"root": bad}) == {(*path, "extra")}


def test_mutually_recursive_definitions() -> None:
    schema = obj(
        {"a": {"$ref": "#/$defs/A"}},
        **{
            "$defs": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
                "B": {
                    "type": ["object", "null"],
                    "properties": {"a": {"$ref": "#/$defs/A"}, "n": {"type": "integer"}},
                },
            }
        },
    )
    model = build(schema)
    data = {"a": {"b": {"a": {"b": {"a": {"b": None}}, "x": 1}, "n": 1}}}
    assert model.model_validate(data).to_arguments() == data
    assert locs(model, {"a": {"b": {"a": {"b": {"n": "1"}}}}}) == {("a", "b", "a", "b", "n")}


def test_recursion_through_non_object_definitions_is_checked_by_jsonschema() -> None:
    schema = obj(
        {"value": {"$ref": "#/$defs/Json"}},
        **{
            "$defs": {
                "Json": {
                    "anyOf": [
                        {"type": ["string", "integer", "boolean", "null"]},
                        {"type": "array", "items": {"$ref": "#/$defs/Json"}},
                        {"type": "object", "additionalProperties": {"$ref": "#/$defs/Json"}},
                    ]
                }
            }
        },
    )
    model = build(schema)
    good = {"value": {"a": [1, "x", {"b": [None, True]}]}}
    assert model.model_validate(good).to_arguments() == good
    for bad in ({"value": 1.5}, {"value": [1, [2.5]]}, {"value": {"a": {"b": [0.5]}}}):
        assert first_locs(model, bad) == {"value"}
        assert agrees(schema, model, bad)


def test_self_reference_to_the_root_and_other_pointers() -> None:
    schema = obj(
        {
            "name": {"type": "string"},
            "parent": {"$ref": "#"},
            "alias": {"$ref": "#/properties/name"},
            "legacy": {"$ref": "#/definitions/Legacy"},
        },
        definitions={"Legacy": {"type": "integer"}},
    )
    model = build(schema)
    data = {"name": "a", "parent": {"name": "b", "parent": {"alias": "c"}}, "legacy": 1}
    assert model.model_validate(data).to_arguments() == data
    assert first_locs(model, {"parent": {"parent": {"name": 1}}}) == {"parent"}
    assert first_locs(model, {"alias": 1}) == {"alias"}
    assert first_locs(model, {"legacy": "1"}) == {"legacy"}
    assert first_locs(model, {"parent": {"nope": 1}}) == {"parent"}


def test_unresolvable_references_are_schema_errors() -> None:
    with pytest.raises(SchemaError):
        render_model_builder("t", obj({"a": {"$ref": "#/$defs/Missing"}}))
    with pytest.raises(SchemaError):
        render_model_builder("t", obj({"a": {"$ref": "https://example.com/s.json"}}))


# -- composition ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "good", "bad"),
    [
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, ["a", 1], [1.5, None, True]),
        ({"anyOf": [{"$ref": "#/$defs/P"}, {"type": "null"}]}, [None, {"x": 1}], [{"x": "1"}]),
        ({"oneOf": [{"type": "string"}, {"type": "boolean"}]}, ["a", True], [1]),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1.5], [1, 2.0, "1"]),
        (
            {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "string", "pattern": "a"}]},
            ["b", "aaa"],
            ["aa", "bbb"],
        ),
        (
            {"oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]},
            [{"kind": "cat", "lives": 9}, {"kind": "dog"}],
            [{"kind": "cow"}, {"kind": "cat", "lives": "9"}, {"lives": 1}],
        ),
        (
            {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
            [{"a": 1}, {"b": 1, "c": 2}],
            [{"c": 1}, "a"],
        ),
        ({"type": "string", "anyOf": [{"format": "date"}, {}]}, ["x"], [1]),
    ],
)
def test_any_of_and_one_of(prop: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    defs = {
        "P": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "Cat": {
            "type": "object",
            "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}},
            "required": ["kind"],
        },
        "Dog": {
            "type": "object",
            "properties": {"kind": {"const": "dog"}},
            "required": ["kind"],
        },
    }
    schema = obj({"v": prop}, **{"$defs": defs})
    model = build(schema)
    for value in good:
        assert errors(model, {"v": value}) is None, value
        assert model.model_validate({"v": value}).to_arguments() == {"v": value}
    for value in bad:
        assert first_locs(model, {"v": value}) == {"v"}, value
    for value in good + bad:
        assert agrees(schema, model, {"v": value}), value


def test_discriminated_one_of_needs_no_jsonschema_check() -> None:
    schema = obj(
        {"pet": {"oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]}},
        **{
            "$defs": {
                "Cat": {
                    "type": "object",
                    "properties": {"kind": {"const": "cat"}},
                    "required": ["kind"],
                },
                "Dog": {
                    "type": "object",
                    "properties": {"kind": {"enum": ["dog", "wolf"]}},
                    "required": ["kind"],
                },
            }
        },
    )
    assert "schema_check" not in render_model_builder("t", schema).source
    overlapping = obj({"v": {"oneOf": [{"type": "integer"}, {"minimum": 3}]}})
    assert "schema_check" in render_model_builder("t", overlapping).source


ALL_OF = obj(
    {
        "merged": {
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {
                    "type": "object",
                    "properties": {"extra": {"type": "boolean"}, "id": {"minimum": 1}},
                    "required": ["extra"],
                },
            ],
            "description": "A base with more.",
        },
        "closed": {
            "allOf": [
                {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {}},
                    "additionalProperties": False,
                },
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            ]
        },
        "ref_only": {"allOf": [{"$ref": "#/$defs/Base"}], "description": "Just the base."},
        "mixed": {"allOf": [{"$ref": "#/$defs/Base"}, {"not": {"required": ["name"]}}]},
        "typed_extra": {
            "allOf": [
                {
                    "type": "object",
                    "properties": {"a": {}},
                    "additionalProperties": {"type": "integer"},
                },
                {"properties": {"b": {"type": "string"}}},
            ]
        },
    },
    **{
        "$defs": {
            "Base": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                "required": ["id"],
            }
        }
    },
)


def test_all_of_merges_object_schemas() -> None:
    model = build(ALL_OF)
    source = render_model_builder("t", ALL_OF).source
    assert "class TInputMerged(NestedInput):" in source
    assert "class TInputClosed(ToolInput):" in source
    assert "ref_only: Base" in source
    good = {"merged": {"id": 2, "name": "n", "extra": True, "more": 1}, "closed": {"b": 1}}
    assert model.model_validate(good).to_arguments() == good
    assert locs(model, {"merged": {"id": 2}}) == {("merged", "extra")}
    assert locs(model, {"merged": {"id": 0, "extra": True}}) == {("merged", "id")}
    assert locs(model, {"closed": {"b": "1"}}) == {("closed", "b")}
    assert locs(model, {"closed": {"b": 1, "c": 1}}) == {("closed", "c")}


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("merged", [{"id": 1, "extra": False}], [{"id": 1.5, "extra": False}, {"extra": True}]),
        ("closed", [{"a": "x", "b": 2}], [{"a": "x"}, {"a": 1, "b": 2}, {"b": 2, "z": 0}]),
        ("ref_only", [{"id": 1}], [{"name": "x"}]),
        ("mixed", [{"id": 1}], [{"id": 1, "name": "x"}, {"name": "x"}]),
        ("typed_extra", [{"a": "x", "c": 1}, {}], [{"b": "y"}, {"b": 1}, {"c": "1"}]),
    ],
)
def test_all_of_agrees_with_jsonschema(field: str, good: list[Any], bad: list[Any]) -> None:
    model = build(ALL_OF)
    for value in good:
        assert errors(model, {field: value}) is None, value
    for value in bad:
        assert first_locs(model, {field: value}) == {field}, value
    for value in good + bad:
        assert agrees(ALL_OF, model, {field: value}), value


# -- keywords checked by jsonschema -----------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "good", "bad"),
    [
        ({"not": {"type": "string"}}, [1, None, []], ["s"]),
        (
            {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "size": {"type": "integer"}},
                "if": {"properties": {"kind": {"const": "big"}}, "required": ["kind"]},
                "then": {"required": ["size"]},
                "else": {"not": {"required": ["size"]}},
            },
            [{"kind": "big", "size": 3}, {"kind": "small"}, {}],
            [{"kind": "big"}, {"kind": "small", "size": 1}],
        ),
        (
            {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "patternProperties": {"^x-": {"type": "integer"}},
                "additionalProperties": False,
            },
            [{"name": "a", "x-rate": 1}, {}],
            [{"x-rate": "1"}, {"other": 1}, {"name": 1}],
        ),
        (
            {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "string"}}},
            [{"abc": "x", "ABC": 1}],
            [{"abc": 1}],
        ),
        (
            {"type": "object", "dependentRequired": {"a": ["b"]}},
            [{"b": 1}, {"a": 1, "b": 2}],
            [{"a": 1}],
        ),
        ({"type": "object", "propertyNames": {"maxLength": 2}}, [{"ab": 1}], [{"abc": 1}]),
        (
            {
                "type": "object",
                "properties": {"a": {}},
                "allOf": [{"properties": {"b": {}}}],
                "unevaluatedProperties": False,
            },
            [{"a": 1, "b": 2}],
            [{"c": 3}],
        ),
        (
            {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "items": False,
            },
            [["a", 1], ["a"], []],
            [["a", "b"], ["a", 1, 2]],
        ),
        (
            {"type": "array", "contains": {"type": "integer"}, "minContains": 2},
            [[1, "a", 2]],
            [[1, "a"], []],
        ),
        ({"type": "object", "properties": {"gone": False}}, [{}], [{"gone": 1}]),
        ({"type": "array", "items": False}, [[]], [[1]]),
        ({"properties": {"a": {"type": "integer"}}}, [{"a": 1}, "not an object", 3], [{"a": "1"}]),
        ({"minLength": 2}, ["ab", 1], ["a"]),
    ],
)
def test_fallback_keywords_still_reject_invalid_input(
    prop: dict[str, Any], good: list[Any], bad: list[Any]
) -> None:
    schema = obj({"v": prop})
    model = build(schema)
    for value in good:
        assert errors(model, {"v": value}) is None, value
        assert model.model_validate({"v": value}).to_arguments() == {"v": value}
    for value in bad:
        assert first_locs(model, {"v": value}) == {"v"}, value
    for value in good + bad:
        assert agrees(schema, model, {"v": value}), value


def test_composition_at_the_top_level() -> None:
    schema = obj(
        {"a": {"type": "string"}, "b": {"type": "string"}},
        oneOf=[{"required": ["a"]}, {"required": ["b"]}],
    )
    model = build(schema)
    assert errors(model, {"a": "x"}) is None
    assert errors(model, {}) is not None
    assert errors(model, {"a": "x", "b": "y"}) is not None
    assert first_locs(model, {"a": "x", "c": 1}) == {"c"}


@pytest.mark.parametrize(
    ("extra", "good", "bad"),
    [
        ({"unevaluatedProperties": False}, [{"a": 1}], [{"a": 1, "b": 2}]),
        ({"const": {"a": 1}}, [{"a": 1}], [{"a": 2}, {}]),
        ({"enum": [{"a": 1}, {"a": 2}]}, [{"a": 2}], [{"a": 3}]),
        ({"minProperties": 1, "not": {"required": ["b"]}}, [{"a": 1}], [{}, {"b": 1}]),
    ],
)
def test_whole_object_keywords_at_the_top_level(
    extra: dict[str, Any], good: list[Any], bad: list[Any]
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, **extra}
    model = build(schema)
    for value in good:
        assert model.model_validate(value).to_arguments() == value
    for value in bad:
        assert errors(model, value) is not None, value
    for value in good + bad:
        assert agrees(schema, model, value)


def test_dynamic_references_fall_back_to_whole_document_validation() -> None:
    schema = {
        "type": "object",
        "properties": {"list": {"$ref": "#/$defs/List"}},
        "additionalProperties": False,
        "$defs": {
            "List": {
                "$id": "https://example.com/list",
                "$dynamicAnchor": "item",
                "type": "array",
                "items": {"$dynamicRef": "#item"},
            }
        },
    }
    model = build(schema)
    assert model.model_validate({"list": []}).to_arguments() == {"list": []}
    assert errors(model, {"list": 1}) is not None
    assert errors(model, {"other": 1}) is not None


# -- run-time helpers -------------------------------------------------------------------


def test_check_messages_name_the_rule_not_the_value() -> None:
    check = schema_check({"type": "object", "properties": {"token": {"pattern": "^ghp_"}}})
    with pytest.raises(ValueError) as info:
        check({"token": "s3cr3t-value"})
    assert "s3cr3t" not in str(info.value)
    assert "/token" in str(info.value) and "pattern" in str(info.value)


def test_models_produce_a_json_schema() -> None:
    for schema in (KINDS, NESTED, TREE, ALL_OF):
        assert build(schema).model_json_schema()["type"] == "object"


def test_invalid_schemas_raise_schema_error() -> None:
    for bad in (
        obj({"a": {"type": 5}}),
        obj({"a": {"anyOf": []}}),
        obj({"a": "string"}),
    ):
        with pytest.raises(SchemaError):
            render_model_builder("t", bad)
