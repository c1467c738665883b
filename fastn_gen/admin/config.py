"""The ``admin:`` block of the tenants file: who may open ``/admin`` and ``/metrics``.

Admin keys are stored like tenant API keys, as salted hashes (``fastn-gen admin
new-key`` prints a key once and the entry to add). Kept light (pydantic and yaml
only) because the tenants file model imports it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fastn_gen.gateway import tenants_yaml
from fastn_gen.gateway.apikeys import parse_key_hash

KEY_LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class AdminKeyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, pattern=KEY_LABEL, max_length=64)
    label: str | None = None
    hash: str

    @field_validator("hash")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        parse_key_hash(value)
        return value


class AdminModel(BaseModel):
    """``admin: {api_keys: [{id, hash, label?}]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_keys: list[AdminKeyModel] = Field(default_factory=list)


def load_admin_config(tenants_file: Path) -> AdminModel | None:
    """The ``admin:`` block of a tenants file that was already validated as a whole."""
    block = tenants_yaml.settings_block(Path(tenants_file), "admin")
    return AdminModel.model_validate(block) if block is not None else None
