"""Errors of the flows runtime."""

from __future__ import annotations


class FlowRunError(Exception):
    """A run cannot be started: no such flow for the tenant, it is disabled, or its
    stored specification is not a valid flow any more."""
