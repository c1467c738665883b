"""The shipped HubSpot and Stripe mappings, and the transforms, on answers shaped like theirs.

There are no loopback HubSpot or Stripe upstreams, so their mappings (as compiled into
the repository's ``generated/`` modules) run here on answers shaped as those APIs
document them.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from fastn_gen.cdm.cursor import (
    CursorError,
    SearchCursor,
    SourceState,
    decode,
    encode,
    fingerprint,
)
from fastn_gen.cdm.functions import evaluate
from fastn_gen.cdm.mapping import MappingError, map_result
from fastn_gen.cdm.models import Contact
from fastn_gen.cdm.ranking import matches_filters, score
from fastn_gen.cdm.values import Source, iso_to_utc, money_from_minor, money_of, unix_to_utc
from fastn_gen.runtime.entities import EntityMapping


def entities(connector: str) -> dict[str, EntityMapping]:
    module = importlib.import_module(f"generated.connectors.{connector}")
    found: dict[str, EntityMapping] = module.ENTITIES
    return found


def test_hubspot_contacts() -> None:
    answer = {
        "total": 2,
        "results": [
            {
                "id": "512",
                "properties": {
                    "email": "buyer@acme.example",
                    "firstname": "Acme",
                    "lastname": "Buyer",
                    "company": "Acme Corp",
                    "jobtitle": "",
                    "phone": None,
                },
                "createdAt": "2024-10-02T14:00:00.000Z",
                "updatedAt": "2024-10-03T09:00:00+02:00",
                "archived": False,
            },
            {"properties": {"email": "no-id@acme.example"}},
        ],
        "paging": {"next": {"after": "513", "link": "https://api.hubapi.com/..."}},
    }
    page = map_result(entities("hubspot")["Contact"], "hubspot", answer, {}, 20)
    assert page.next_cursor == "513"
    assert (page.record_count, page.skipped) == (2, 1)  # a record without an id is left out
    (contact,) = page.entities
    assert contact.model_dump(mode="json", exclude_none=True) == {
        "source": {"connector": "hubspot", "remote_id": "512"},
        "name": "Acme Buyer",
        "first_name": "Acme",
        "last_name": "Buyer",
        "email": "buyer@acme.example",
        "company": "Acme Corp",
        "created_at": "2024-10-02T14:00:00Z",
        "updated_at": "2024-10-03T07:00:00Z",
    }
    last = map_result(entities("hubspot")["Contact"], "hubspot", {"results": []}, {}, 20)
    assert (last.entities, last.next_cursor) == ([], None)


def test_stripe_invoices_in_minor_units() -> None:
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "number": "ACME-0001",
        "customer": "cus_1",
        "customer_email": "buyer@acme.example",
        "customer_name": "Acme Buyer",
        "status": "open",
        "currency": "jpy",
        "total": 5000,
        "amount_due": 5000,
        "amount_paid": 0,
        "due_date": 1727877600,
        "created": 1727791200,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1",
    }
    expanded = invoice | {
        "id": "in_2",
        "customer": {"id": "cus_2", "object": "customer"},
        "currency": "usd",
        "total": 19999,
        "amount_due": 0,
        "amount_paid": 19999,
        "due_date": None,
    }
    answer = {"object": "list", "data": [invoice, expanded], "has_more": True, "url": "/v1"}
    page = map_result(entities("stripe")["Invoice"], "stripe", answer, {}, 100)
    first, second = page.entities
    assert page.next_cursor == "in_2"
    assert first.model_dump(mode="json", exclude_none=True) == {
        "source": {
            "connector": "stripe",
            "remote_id": "in_1",
            "remote_url": "https://invoice.stripe.com/i/acct_1/test_1",
        },
        "number": "ACME-0001",
        "status": "open",
        "email": "buyer@acme.example",
        "customer_name": "Acme Buyer",
        "customer_remote_id": "cus_1",
        "total": {"amount": "5000", "currency": "JPY"},
        "amount_due": {"amount": "5000", "currency": "JPY"},
        "amount_paid": {"amount": "0", "currency": "JPY"},
        "due_at": "2024-10-02T14:00:00Z",
        "created_at": "2024-10-01T14:00:00Z",
    }
    dumped = second.model_dump(mode="json")
    assert dumped["customer_remote_id"] == "cus_2"
    assert dumped["total"] == {"amount": "199.99", "currency": "USD"}
    assert dumped["due_at"] is None
    done = map_result(
        entities("stripe")["Invoice"], "stripe", answer | {"has_more": False}, {}, 100
    )
    assert done.next_cursor is None


def test_stripe_customers() -> None:
    customer = {
        "id": "cus_1",
        "object": "customer",
        "created": 1727877600,
        "email": "buyer@acme.example",
        "name": "Acme Buyer",
        "phone": None,
        "address": {"line1": "1 Main St", "city": "Ottawa", "state": "ON", "country": "CA"},
        "livemode": False,
    }
    page = map_result(
        entities("stripe")["Contact"], "stripe", {"data": [customer], "has_more": False}, {}, 100
    )
    (contact,) = page.entities
    assert contact.source.remote_url == "https://dashboard.stripe.com/customers/cus_1"
    assert contact.address is not None and contact.address.region == "ON"
    assert contact.created_at == "2024-10-02T14:00:00Z"


def test_a_result_whose_records_are_not_a_list_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="are not a list"):
        map_result(entities("stripe")["Contact"], "stripe", {"data": {"id": "x"}}, {}, 10)


def test_values_that_do_not_fit_are_left_out_not_guessed() -> None:
    mapping = EntityMapping(
        entity_type="Contact",
        tool="t",
        records="rows",
        id="id",
        fields=(("email", "mail"), ("created_at", "created"), ("address", "addr")),
    )
    answer = {"rows": [{"id": 1, "mail": "a@b.example", "created": "yesterday", "addr": 5}]}
    (contact,) = map_result(mapping, "crm", answer, {}, None).entities
    assert contact.model_dump(exclude_none=True) == {
        "source": {"connector": "crm", "remote_id": "1"},
        "email": "a@b.example",
    }


@pytest.mark.parametrize(
    ("expression", "record", "expected"),
    [
        ("iso_time(t)", {"t": "2024-10-02T10:00:00-04:00"}, "2024-10-02T14:00:00Z"),
        ("iso_time(t)", {"t": "2024-10-02"}, "2024-10-02T00:00:00Z"),
        ("iso_time(t)", {"t": "2024-10-02T10:00:00"}, "2024-10-02T10:00:00Z"),
        ("iso_time(t)", {"t": "soon"}, None),
        ("unix_time(t)", {"t": 1727877600}, "2024-10-02T14:00:00Z"),
        ("unix_time(t)", {"t": "1727877600.000200"}, "2024-10-02T14:00:00.000200Z"),
        ("money(a, c)", {"a": "199.00", "c": "usd"}, {"amount": "199.00", "currency": "USD"}),
        ("money(a, c)", {"a": 12.5, "c": "EUR"}, {"amount": "12.5", "currency": "EUR"}),
        ("money(a, c)", {"a": "12,50", "c": "EUR"}, None),
        ("minor_money(a, c)", {"a": 19900, "c": "usd"}, {"amount": "199.00", "currency": "USD"}),
        ("minor_money(a, c)", {"a": 500, "c": "JPY"}, {"amount": "500", "currency": "JPY"}),
        ("minor_money(a, c)", {"a": 1234, "c": "kwd"}, {"amount": "1.234", "currency": "KWD"}),
        ("minor_money(a, c)", {"a": -250, "c": "usd"}, {"amount": "-2.50", "currency": "USD"}),
        ("join_present(' ', [a, b, c])", {"a": "Ada", "b": None, "c": "Lovelace"}, "Ada Lovelace"),
        ("join_present(' ', [a, b])", {"a": "", "b": None}, None),
        ("format('https://x/{0}/{1}', [var('shop'), id])", {"id": 7}, "https://x/acme/7"),
        ("format('https://x/{0}', [missing])", {}, None),
        ("plain_text(h)", {"h": "<p>Fish &amp;<br/>chips</p>"}, "Fish & chips"),
    ],
)
def test_transforms(expression: str, record: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, record, {"shop": "acme"}) == expected


def test_the_documented_ranking_example() -> None:
    source = Source(connector="crm", remote_id="1")
    buyer = Contact(source=source, name="Acme Buyer", email="buyer@acme.example")
    exact = Contact(source=source, name="ACME", email="acme", company="Acme", phone="acme")
    other = Contact(source=source, name="Zed", email="zed@other.example")
    assert score(buyer, "acme") == 0.525
    assert score(exact, "  Acme ") == 1.0
    assert score(other, "acme") == 0.0
    # Both words in name and email, in another order: 0.4 each, (1.2 + 1.2) / 8.
    assert score(buyer, "buyer acme") == 0.3
    assert score(buyer, "") == 0.0


def test_filters_match_exactly_by_dotted_path() -> None:
    contact = Contact(
        source=Source(connector="shopify", remote_id="1"), email="A@Example.com", name="A"
    )
    assert matches_filters(contact, {"email": "a@example.com", "source.connector": "shopify"})
    assert not matches_filters(contact, {"source.connector": "slack"})
    assert not matches_filters(contact, {"phone": "1"})


def test_money_helpers_refuse_what_they_cannot_read() -> None:
    assert money_of(True, "USD") is None
    assert money_of("1.00", "dollars") is None
    assert money_from_minor(1.5, "USD") is None
    assert iso_to_utc(None) is None
    assert unix_to_utc("not a time") is None


def test_cursors_round_trip_and_refuse_what_is_not_theirs() -> None:
    fp = fingerprint("Contact", "acme", {"source.connector": "slack"})
    state = SearchCursor(
        fp, {"slack": SourceState("dXNlcjpVMDI=", 3, 100), "shopify": SourceState()}
    )
    assert decode(encode(state), fp) == state
    assert fp != fingerprint("Contact", "acme", None)
    for bad in ("not base64!", encode(state)[:-4], ""):
        with pytest.raises(CursorError):
            decode(bad, fp)
    with pytest.raises(CursorError, match="different search"):
        decode(encode(state), fingerprint("Order", "acme", None))
