"""Errors every store backend raises, so callers need not know which backend runs."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked (bad input, unusable database)."""


class InvalidCursor(StoreError, ValueError):
    """A pagination cursor that this store did not produce (or that was altered)."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer release; refusing to run older code on it."""
