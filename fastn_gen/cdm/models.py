"""The common data model: one shape per kind of record, whichever service it comes from.

Fastn's commerce set (Contact, Product, Order, Invoice, InventoryLevel, Fulfillment) and
the messaging set (Message, Channel). Every field but ``source`` is optional: services
know different things, and a field a service does not provide is absent rather than
guessed. ``SEARCH_FIELDS`` are the fields a text query is matched against, with their
weights (see :mod:`fastn_gen.cdm.ranking`).

The published JSON Schema of these models is in ``docs/cdm.md``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from fastn_gen.cdm.values import Address, CdmModel, Money, Source, Text, Timestamp

EntityType = Literal[
    "Contact",
    "Product",
    "Order",
    "Invoice",
    "InventoryLevel",
    "Fulfillment",
    "Message",
    "Channel",
]


class Entity(CdmModel):
    SEARCH_FIELDS: ClassVar[tuple[tuple[str, float], ...]] = ()

    source: Source


class Contact(Entity):
    """A person: a customer, a CRM contact, a workspace member."""

    SEARCH_FIELDS = (("name", 3.0), ("email", 3.0), ("company", 1.0), ("phone", 1.0))

    name: Text | None = Field(default=None, description="Full name as the service shows it.")
    first_name: Text | None = None
    last_name: Text | None = None
    email: Text | None = None
    phone: Text | None = None
    company: Text | None = None
    title: Text | None = Field(default=None, description="Job title.")
    address: Address | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class Product(Entity):
    """Something sold."""

    SEARCH_FIELDS = (("title", 3.0), ("sku", 2.0), ("vendor", 1.0), ("category", 1.0))

    title: Text | None = None
    description: Text | None = Field(default=None, description="Plain text, without markup.")
    sku: Text | None = None
    vendor: Text | None = None
    category: Text | None = Field(default=None, description="Product type or category.")
    status: Text | None = Field(default=None, description="e.g. active, draft, archived.")
    price: Money | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class OrderLine(CdmModel):
    title: Text | None = None
    sku: Text | None = None
    quantity: int | None = None
    price: Money | None = Field(default=None, description="Unit price.")


class Order(Entity):
    """A customer's order."""

    SEARCH_FIELDS = (("number", 3.0), ("email", 2.0), ("customer_name", 2.0))

    number: Text | None = Field(default=None, description="The order's name, e.g. #1001.")
    status: Text | None = Field(default=None, description="open, closed or cancelled.")
    financial_status: Text | None = Field(default=None, description="e.g. paid, refunded.")
    fulfillment_status: Text | None = Field(default=None, description="e.g. fulfilled.")
    email: Text | None = None
    customer_name: Text | None = None
    customer_remote_id: Text | None = Field(
        default=None, description="The customer's id in the same service."
    )
    total: Money | None = None
    subtotal: Money | None = None
    line_items: list[OrderLine] | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None


class Invoice(Entity):
    """A bill sent to a customer."""

    SEARCH_FIELDS = (("number", 3.0), ("email", 2.0), ("customer_name", 2.0))

    number: Text | None = None
    status: Text | None = Field(default=None, description="e.g. draft, open, paid, void.")
    email: Text | None = None
    customer_name: Text | None = None
    customer_remote_id: Text | None = None
    total: Money | None = None
    amount_due: Money | None = None
    amount_paid: Money | None = None
    due_at: Timestamp | None = None
    created_at: Timestamp | None = None


class InventoryLevel(Entity):
    """How many of an item are available at one location."""

    SEARCH_FIELDS = (("sku", 3.0), ("location_name", 1.0))

    sku: Text | None = None
    product_remote_id: Text | None = None
    location_remote_id: Text | None = None
    location_name: Text | None = None
    available: int | None = None
    updated_at: Timestamp | None = None


class Fulfillment(Entity):
    """A shipment of (part of) an order."""

    SEARCH_FIELDS = (("tracking_number", 3.0), ("order_number", 2.0), ("carrier", 1.0))

    order_remote_id: Text | None = None
    order_number: Text | None = None
    status: Text | None = None
    carrier: Text | None = None
    tracking_number: Text | None = None
    tracking_url: Text | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class Message(Entity):
    """A message posted in a channel or conversation."""

    SEARCH_FIELDS = (("text", 2.0), ("author_name", 1.0), ("channel_name", 1.0))

    text: Text | None = None
    author_remote_id: Text | None = None
    author_name: Text | None = None
    channel_remote_id: Text | None = None
    channel_name: Text | None = None
    thread_remote_id: Text | None = Field(
        default=None, description="The id of the thread's first message, for replies."
    )
    sent_at: Timestamp | None = None


class Channel(Entity):
    """A channel or conversation messages are posted in."""

    SEARCH_FIELDS = (("name", 3.0), ("topic", 1.0), ("purpose", 1.0))

    name: Text | None = None
    topic: Text | None = None
    purpose: Text | None = None
    is_private: bool | None = None
    is_archived: bool | None = None
    member_count: int | None = None
    created_at: Timestamp | None = None


ENTITY_MODELS: dict[str, type[Entity]] = {
    "Contact": Contact,
    "Product": Product,
    "Order": Order,
    "Invoice": Invoice,
    "InventoryLevel": InventoryLevel,
    "Fulfillment": Fulfillment,
    "Message": Message,
    "Channel": Channel,
}
ENTITY_TYPES: tuple[str, ...] = tuple(ENTITY_MODELS)


def mappable_fields(entity_type: str) -> tuple[str, ...]:
    """The fields a connector mapping may fill (``source`` is filled from ``id``/``url``)."""
    model = ENTITY_MODELS[entity_type]
    return tuple(name for name in model.model_fields if name != "source")
