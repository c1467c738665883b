"""Mistakes in ``entities:`` blocks are caught by ``fastn-gen build``, by file and pointer.

Each connector here is a small, otherwise valid spec; the build must fail with exit
status 2 and one line per mistake, and write nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from fastn_gen.cli import EXIT_INVALID, main
from fastn_gen.codegen.build import build

REPO = Path(__file__).resolve().parents[2]

CRM: dict[str, Any] = {
    "name": "crm",
    "title": "CRM",
    "base_url": "https://crm.example/api",
    "auth": {"type": "bearer"},
    "tools": [
        {
            "name": "list_people",
            "description": "List people.",
            "method": "GET",
            "path": "/people",
            "parameters": [
                {"name": "q", "in": "query"},
                {"name": "size", "in": "query", "type": "integer", "maximum": 50},
                {"name": "after", "in": "query"},
                {"name": "kind", "in": "query", "enum": ["person", "company"]},
            ],
            "output_schema": {
                "type": "object",
                "properties": {
                    "people": {"type": "array", "items": {"$ref": "#/$defs/Person"}},
                    "next": {"type": ["string", "null"]},
                },
                "$defs": {
                    "Person": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "full_name": {"type": "string"},
                            "mail": {"type": "string"},
                            "created": {"type": "integer"},
                        },
                    }
                },
            },
        },
        {
            "name": "get_team",
            "description": "A team's members.",
            "method": "GET",
            "path": "/teams/{team}",
            "parameters": [{"name": "team", "in": "path"}],
        },
        {
            "name": "add_person",
            "description": "Add a person.",
            "method": "POST",
            "path": "/people",
            "parameters": [{"name": "name", "in": "body", "required": True}],
        },
    ],
}

GOOD_CONTACT: dict[str, Any] = {
    "tool": "list_people",
    "query": "q",
    "limit": "size",
    "cursor": "after",
    "records": "people",
    "next_cursor": "next",
    "id": "id",
    "url": "format('https://crm.example/p/{0}', [id])",
    "fields": {"name": "full_name", "email": "mail", "created_at": "unix_time(created)"},
}


def write_crm(root: Path, entities: dict[str, Any]) -> Path:
    connectors = root / "connectors.d"
    connectors.mkdir()
    doc = {**CRM, "entities": entities}
    (connectors / "crm.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return connectors


def problems(root: Path, entities: dict[str, Any]) -> list[str]:
    report = build(write_crm(root, entities), root / "out")
    assert not (root / "out").exists()
    return [str(issue) for issue in report.issues]


def test_a_correct_mapping_is_compiled_into_the_generated_module(tmp_path: Path) -> None:
    report = build(write_crm(tmp_path, {"Contact": GOOD_CONTACT}), tmp_path / "out")
    assert report.issues == []
    module = (tmp_path / "out" / "connectors" / "crm.py").read_text("utf-8")
    assert "from fastn_gen.runtime.entities import EntityMapping" in module
    assert 'ENTITIES: dict[str, EntityMapping] = {\n    "Contact": EntityMapping(' in module
    assert 'tool="crm_list_people"' in module
    assert "max_limit=50," in module  # from the size argument's maximum
    assert '("created_at", "unix_time(created)")' in module


def test_a_connector_without_mappings_gets_no_entities_table(tmp_path: Path) -> None:
    report = build(write_crm(tmp_path, {}), tmp_path / "out")
    assert report.issues == []
    module = (tmp_path / "out" / "connectors" / "crm.py").read_text("utf-8")
    assert "ENTITIES" not in module and "EntityMapping" not in module


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"tool": "list_peple"},
            "crm.yaml#/entities/Contact/tool: no tool named 'list_peple'; did you mean "
            "'crm_list_people'? in connector crm",
        ),
        (
            {"records": "people[?"},
            "crm.yaml#/entities/Contact/records: not a valid JMESPath expression: Invalid "
            'jmespath expression: Incomplete expression: "people[?" ^',
        ),
        (
            {"fields": {"name": "titlecase(full_name)"}},
            "crm.yaml#/entities/Contact/fields/name: unknown function titlecase()",
        ),
        (
            {"fields": {"total": "money(amount)"}},
            "crm.yaml#/entities/Contact/fields/total: Contact has no field 'total'; did you "
            "mean 'title'?",
        ),
        (
            {"fields": {"created_at": "unix_time(created, 'UTC')"}},
            "crm.yaml#/entities/Contact/fields/created_at: unix_time() takes 1 argument(s), got 2",
        ),
        (
            {"fields": {"emial": "mail"}},
            "crm.yaml#/entities/Contact/fields/emial: Contact has no field 'emial'; did you "
            "mean 'email'?",
        ),
        (
            {"fields": {"email": "email"}},
            "crm.yaml#/entities/Contact/fields/email: reads 'email', which a record of "
            "crm_list_people does not have; did you mean 'mail'? (it has: created, full_name, "
            "id, mail)",
        ),
        (
            {"records": "results"},
            "crm.yaml#/entities/Contact/records: reads 'results', which the result of "
            "crm_list_people does not have (it has: next, people)",
        ),
        (
            {"next_cursor": "paging.next"},
            "crm.yaml#/entities/Contact/next_cursor: reads 'paging', which the result of "
            "crm_list_people does not have (it has: next, people)",
        ),
        (
            {"limit": "page_size"},
            "crm.yaml#/entities/Contact/limit: crm_list_people has no argument 'page_size'; "
            "did you mean 'size'? (its arguments: after, kind, q, size)",
        ),
        (
            {"limit": "kind"},
            "crm.yaml#/entities/Contact/limit: argument 'kind' is not a number",
        ),
        (
            {"cursor": "q"},
            "crm.yaml#/entities/Contact/cursor: argument 'q' is already the query argument",
        ),
        (
            {"arguments": {"kind": "robot"}},
            "crm.yaml#/entities/Contact/arguments/kind: 'robot' is not a valid value for "
            "kind: 'robot' is not one of ['person', 'company']",
        ),
        (
            {"next_cursor": None},
            "crm.yaml#/entities/Contact/next_cursor: cursor needs next_cursor: where the next "
            "page's cursor is",
        ),
        (
            {"id": None},
            "crm.yaml#/entities/Contact/id: missing required field 'id'",
        ),
        (
            {"fields": {"remote_url": "link"}},
            "crm.yaml#/entities/Contact/fields/remote_url: the source block is filled from "
            "id and url, not fields.remote_url",
        ),
    ],
)
def test_each_mistake_is_named_by_file_and_pointer(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    mapping = {k: v for k, v in {**GOOD_CONTACT, **change}.items() if v is not None}
    assert problems(tmp_path, {"Contact": mapping}) == [expected]


def test_only_read_only_tools_may_be_searched(tmp_path: Path) -> None:
    mapping = {"tool": "add_person", "arguments": {"name": "x"}, "records": "people", "id": "id"}
    assert problems(tmp_path, {"Contact": mapping}) == [
        "crm.yaml#/entities/Contact/tool: crm_add_person changes data; entity search only "
        "runs read-only tools"
    ]


def test_every_mistake_in_a_block_is_reported_in_one_run(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "Contakt": GOOD_CONTACT,
            "Channel": {"tool": "get_team", "records": "members", "id": "id"},
            "Order": {**GOOD_CONTACT, "fields": {"total": "money(amount)"}, "colour": "red"},
        },
    )
    assert found == [
        "crm.yaml#/entities/Channel/tool: crm_get_team requires team, which the mapping does "
        "not give (set them under arguments, or map the query to them)",
        "crm.yaml#/entities/Contakt: unknown entity type 'Contakt'; did you mean 'Contact'? "
        "(types: Contact, Product, Order, Invoice, InventoryLevel, Fulfillment, Message, "
        "Channel)",
        "crm.yaml#/entities/Order/colour: unknown field 'colour'",
    ]


def test_the_build_command_fails_with_status_2(tmp_path: Path) -> None:
    connectors = write_crm(tmp_path, {"Contact": {**GOOD_CONTACT, "records": "people[?"}})
    result = CliRunner().invoke(
        main, ["build", "--connectors", str(connectors), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == EXIT_INVALID, result.output
    assert "crm.yaml#/entities/Contact/records: not a valid JMESPath expression" in result.stderr


def test_an_openapi_wrapper_is_checked_against_the_documents_schemas(tmp_path: Path) -> None:
    connectors = tmp_path / "connectors.d"
    (connectors / "openapi").mkdir(parents=True)
    document = REPO / "connectors.d" / "openapi" / "stripe-customers.yaml"
    (connectors / "openapi" / "stripe-customers.yaml").write_bytes(document.read_bytes())
    wrapper = yaml.safe_load((REPO / "connectors.d" / "stripe.yaml").read_text("utf-8"))
    wrapper["entities"]["Invoice"]["fields"]["email"] = "customer_mail"
    wrapper["entities"]["Invoice"]["fields"]["total"] = "minor_money(total)"
    wrapper["entities"]["Contact"]["limit"] = "count"
    (connectors / "stripe.yaml").write_text(yaml.safe_dump(wrapper, sort_keys=False), "utf-8")
    report = build(connectors, tmp_path / "out")
    assert [str(i) for i in report.issues] == [
        "stripe.yaml#/entities/Contact/limit: stripe_list_customers has no argument 'count' "
        "(its arguments: created, email, ending_before, expand, limit, starting_after, "
        "test_clock)",
        "stripe.yaml#/entities/Invoice/fields/email: reads 'customer_mail', which a record of "
        "stripe_list_invoices does not have; did you mean 'customer_email'? (it has: "
        "amount_due, amount_paid, amount_remaining, collection_method, created, currency, "
        "customer, customer_email, customer_name, due_date, hosted_invoice_url, id, ... "
        "(24 in all))",
        "stripe.yaml#/entities/Invoice/fields/total: minor_money() takes 2 argument(s), got 1",
    ]
