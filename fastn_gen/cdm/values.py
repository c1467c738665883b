"""The value types every common-data-model entity is built from.

- times are ISO 8601 strings in UTC with a ``Z`` (``2024-10-02T14:00:00Z``), whatever
  offset or form the upstream used;
- money is a decimal string amount with an ISO 4217 currency code, never a float;
- every entity has a ``source`` block saying where it came from.

The normalising functions here are also the mapping transforms (see
:mod:`fastn_gen.cdm.functions`), so an expression and a model read values the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
AMOUNT_PATTERN = r"^-?\d+(\.\d+)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# ISO 4217 currencies whose minor unit is not the cent (as Stripe lists them).
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


class CdmModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- times --------------------------------------------------------------------------------


def format_utc(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def iso_to_utc(value: Any) -> str | None:
    """An ISO 8601 date or date-time (any offset; none means UTC) as UTC, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return format_utc(datetime(day.year, day.month, day.day, tzinfo=UTC))
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_utc(moment)


def unix_to_utc(value: Any) -> str | None:
    """Seconds since the Unix epoch (a number, or a string such as Slack's ``ts``) as UTC."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = Decimal(str(value).strip())
        whole = int(seconds)
        micros = int((seconds - whole) * 1_000_000)
        moment = EPOCH + timedelta(seconds=whole, microseconds=micros)
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return format_utc(moment)


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, str):
        normal = iso_to_utc(value)
        if normal is None:
            raise ValueError("expected an ISO 8601 date-time")
        return normal
    raise ValueError("expected an ISO 8601 date-time string")


Timestamp = Annotated[
    str,
    BeforeValidator(_timestamp),
    Field(
        pattern=ISO_UTC_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 date-time in UTC, e.g. 2024-10-02T14:00:00Z.",
    ),
]


# -- text ---------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    # Upstream ids and numbers arrive as JSON numbers as often as strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_text)]


# -- money --------------------------------------------------------------------------------


def _decimal_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, str) and _AMOUNT.match(value.strip()):
        return value.strip()
    return None


def _currency(value: Any) -> str | None:
    if isinstance(value, str) and _CURRENCY.match(value.strip()):
        return value.strip().upper()
    return None


def money_of(amount: Any, currency: Any) -> dict[str, str] | None:
    """A decimal amount (string or number) and a currency code as money, else None."""
    text, code = _decimal_text(amount), _currency(currency)
    if text is None or code is None:
        return None
    return {"amount": text, "currency": code}


def minor_units(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def money_from_minor(amount: Any, currency: Any) -> dict[str, str] | None:
    """An integer amount in the currency's minor unit (cents) as money, else None."""
    code = _currency(currency)
    if code is None or isinstance(amount, bool):
        return None
    try:
        units = Decimal(str(amount).strip())
    except InvalidOperation:
        return None
    if units != units.to_integral_value():
        return None
    places = minor_units(code)
    value = units.scaleb(-places).quantize(Decimal(1).scaleb(-places))
    return {"amount": format(value, "f"), "currency": code}


class Money(CdmModel):
    """An amount of money: never a float, always with its currency."""

    amount: str = Field(
        pattern=AMOUNT_PATTERN, description="Decimal amount in major units, e.g. 199.00."
    )
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code, e.g. USD.")


# -- provenance and addresses ----------------------------------------------------------------


class Source(CdmModel):
    """Where an entity came from."""

    connector: str = Field(description="The connector that returned it, e.g. shopify.")
    remote_id: str = Field(min_length=1, description="Its id in that service's own API.")
    remote_url: str | None = Field(
        default=None, description="Where a person can see it in that service, when known."
    )


class Address(CdmModel):
    line1: Text | None = None
    line2: Text | None = None
    city: Text | None = None
    region: Text | None = Field(default=None, description="State, province or region.")
    postal_code: Text | None = None
    country: Text | None = Field(default=None, description="Country name or ISO 3166 code.")
