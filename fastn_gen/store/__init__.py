"""Persistent state of the gateway behind one interface (see base.Store)."""
