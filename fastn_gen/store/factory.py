"""Picks the store backend from a URL or path (see docs/store.md).

- ``postgresql://...`` or ``postgres://...`` -> PostgreSQL; an optional ``schema=NAME``
  query parameter keeps the tables in that schema (it is created if missing).
- ``sqlite:///abs/path.db``, ``sqlite:relative.db`` or a plain path -> SQLite.
- Nothing given -> ``FASTN_STORE_URL``; failing that ``<data_dir>/fastn.db``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from fastn_gen.store.base import Store
from fastn_gen.store.errors import StoreError
from fastn_gen.store.sqlite import SQLiteStore

ENV_VAR = "FASTN_STORE_URL"
DEFAULT_SQLITE_NAME = "fastn.db"


def store_from_url(url_or_path: str | Path | None = None, *, data_dir: Path | None = None) -> Store:
    """A store for ``url_or_path``, not yet opened (call ``await store.open()``).

    Relative SQLite paths are resolved against ``data_dir`` when given.
    """
    target = url_or_path if url_or_path is not None else os.environ.get(ENV_VAR) or None
    if target is None:
        if data_dir is None:
            raise StoreError(f"no store configured: pass a URL or path, or set {ENV_VAR}")
        return SQLiteStore(data_dir / DEFAULT_SQLITE_NAME)
    if isinstance(target, Path):
        return SQLiteStore(_under(target, data_dir))
    scheme = urlsplit(target).scheme.lower() if "://" in target or ":" in target else ""
    if scheme in ("postgresql", "postgres"):
        from fastn_gen.store.postgres import PostgresStore  # psycopg only when used

        conninfo, schema = _split_schema(target)
        return PostgresStore(conninfo, schema=schema)
    if scheme == "sqlite":
        path = unquote(target[len("sqlite:") :].removeprefix("//"))
        if not path:
            raise StoreError("a sqlite: store URL needs a file path")
        return SQLiteStore(_under(Path(path), data_dir))
    if scheme and len(scheme) > 1:  # a one-letter scheme is a Windows drive
        raise StoreError(f"unsupported store URL scheme {scheme!r} (use sqlite or postgresql)")
    return SQLiteStore(_under(Path(target), data_dir))


async def open_store(
    url_or_path: str | Path | None = None, *, data_dir: Path | None = None
) -> Store:
    """Like ``store_from_url``, then opened (connected and migrated)."""
    store = store_from_url(url_or_path, data_dir=data_dir)
    await store.open()
    return store


def _under(path: Path, data_dir: Path | None) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() or data_dir is None else data_dir / path


def _split_schema(url: str) -> tuple[str, str | None]:
    """Removes our ``schema`` parameter, which libpq would refuse as unknown."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = [(key, value) for key, value in query if key != "schema"]
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    return conninfo, (schemas[-1] if schemas else None)
