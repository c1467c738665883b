"""Read a tenants file fast and lean: libyaml's parser, values built from its events.

A tenants file can list 100,000 tenants (20 MB). PyYAML's pure-Python loader needs
minutes for that, and even with libyaml (``CSafeLoader``) ``safe_load`` first builds
the whole node tree, every node with two marks: about 7 KB per tenant before the
first value exists. Here the values are built straight from the parser's events, so
nothing but the values is ever held, and repeated strings (keys, connector names,
credential references) are kept once.

Line numbers are only needed to report a problem, so they are not collected while
loading: :class:`LazyLines` composes the document (with marks) the first time a
problem asks for a line. Duplicate keys, which only the node tree shows, are noticed
while loading and reported the same way.

The values are what ``yaml.safe_load`` returns for the same text; a document using
anything beyond plain mappings, sequences, scalars, anchors and merge keys (``!!set``,
``!!omap``, ...) is handed to ``safe_load`` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_DEFAULT_TAGS = (None, "!", _MAP, _SEQ)


class _Unsupported(Exception):
    """Something this reader leaves to ``yaml.safe_load``."""


class _Frame:
    __slots__ = ("container", "key", "has_key", "merges")

    def __init__(self, container: dict[Any, Any] | list[Any]) -> None:
        self.container = container
        self.key: Any = None
        self.has_key = False
        self.merges: list[Any] | None = None


def load(text: str) -> tuple[Any, bool]:
    """``(value, has_duplicate_keys)`` of a one-document YAML text.

    Raises ``yaml.YAMLError`` (with ``problem_mark``) on a syntax error, as ``safe_load``.
    """
    try:
        return _load_events(text, None)
    except _Unsupported:
        return yaml.load(text, Loader=_Loader), False  # noqa: S506 - a safe loader


def load_block(text: str, key: str) -> Any:
    """The value of one top-level key, without building the others' values."""
    try:
        data = _load_events(text, key)[0]
    except _Unsupported:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    return data.get(key) if isinstance(data, dict) else None


@functools.lru_cache(maxsize=4)
def _settings(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = _load_events(text, None, skip="tenants")[0]
    except _Unsupported:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    return data if isinstance(data, dict) else {}


def settings_block(path: Path, key: str) -> Any:
    """A top-level block other than ``tenants`` (``admin``, ``oauth``) of a tenants file.

    The file is read once for all blocks, and its tenants are not built: the settings
    of a file with 100,000 tenants cost one pass of the parser. Read again when the
    file changes (its modification time or size).
    """
    stat = path.stat()
    return _settings(str(path.resolve()), stat.st_mtime_ns, stat.st_size).get(key)


def _load_events(text: str, only: str | None, skip: str | None = None) -> tuple[Any, bool]:
    loader = _Loader(text)
    try:
        return _Builder(loader, only, skip).run()
    finally:
        loader.dispose()


class _Builder:
    def __init__(
        self, loader: yaml.SafeLoader, only: str | None = None, skip: str | None = None
    ) -> None:
        self.loader: Any = loader  # libyaml's parser methods are untyped
        self.only = only  # build only this top-level key's value
        self.skip = skip  # or build all but this one's
        self.strings: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.anchors: dict[str, Any] = {}
        self.duplicates = False

    def run(self) -> tuple[Any, bool]:
        loader: Any = self.loader
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            loader.get_event()
            return None, False
        loader.get_event()  # document start
        root = self._document()
        loader.get_event()  # document end
        if not loader.check_event(StreamEndEvent):
            event = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                None,
                "but found another document",
                event.start_mark,
            )
        loader.get_event()
        return root, self.duplicates

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        value: str = event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                tag = _STR
            else:
                tag = self.tags.get(value)
                if tag is None:
                    tag = self.loader.resolve(ScalarNode, value, event.implicit)
                    self.tags[value] = tag
        if tag == _STR:
            return self.strings.setdefault(value, value)
        if tag == _MERGE:
            return _MERGE_KEY
        constructors = self.loader.yaml_constructors
        construct: Callable[..., Any] | None = constructors.get(tag)
        if construct is None:
            raise _Unsupported(tag)
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        return construct(self.loader, node)

    def _document(self) -> Any:
        loader: Any = self.loader
        stack: list[_Frame] = []
        anchors = self.anchors
        while True:
            event: Any = loader.get_event()
            if isinstance(event, ScalarEvent):
                value = self._scalar(event)
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                if event.tag not in _DEFAULT_TAGS:
                    raise _Unsupported(event.tag)
                container: dict[Any, Any] | list[Any] = (
                    {} if isinstance(event, MappingStartEvent) else []
                )
                if event.anchor is not None:
                    anchors[event.anchor] = container
                stack.append(_Frame(container))
                continue
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                frame = stack.pop()
                if frame.merges is not None:
                    _apply_merges(frame.container, frame.merges)  # type: ignore[arg-type]
                value = frame.container
            elif isinstance(event, AliasEvent):
                if event.anchor not in anchors:
                    raise _Unsupported("undefined alias")  # safe_load reports it
                value = anchors[event.anchor]
            else:
                raise _Unsupported(type(event).__name__)
            if isinstance(event, ScalarEvent) and event.anchor is not None:
                anchors[event.anchor] = value
            if not stack:
                return value
            frame = stack[-1]
            self._deliver(frame, value)
            if len(stack) == 1 and frame.has_key and type(frame.container) is dict:
                if (self.only is not None and frame.key != self.only) or (
                    self.skip is not None and frame.key == self.skip
                ):
                    self._skip_value()
                    self._deliver(frame, None)

    def _skip_value(self) -> None:
        """Read past one value (with everything nested in it) without building it."""
        loader: Any = self.loader
        depth = 0
        while True:
            event = loader.get_event()
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                depth += 1
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                depth -= 1
            if depth == 0:
                return

    def _deliver(self, frame: _Frame, value: Any) -> None:
        container = frame.container
        if type(container) is list:
            container.append(value)
            return
        if not frame.has_key:
            try:
                hash(value)
            except TypeError:
                raise _Unsupported("unhashable key") from None
            frame.key = value
            frame.has_key = True
            return
        key = frame.key
        frame.has_key = False
        if key is _MERGE_KEY:
            frame.merges = [] if frame.merges is None else frame.merges
            frame.merges.append(value)
            return
        if key in container:
            self.duplicates = True
        container[key] = value


class _MergeKey:
    """The ``<<`` key of a merge."""


_MERGE_KEY = _MergeKey()


def _apply_merges(mapping: dict[Any, Any], merges: list[Any]) -> None:
    """As SafeLoader's flatten_mapping: own keys win, then the merged mappings in order."""
    merged: dict[Any, Any] = {}
    sources: list[Any] = []
    for value in merges:
        if isinstance(value, dict):
            sources.append(value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            sources.extend(reversed(value))
        else:
            raise _Unsupported("merge of a non-mapping")
    for source in sources:
        merged.update(source)
    own = dict(mapping)
    mapping.clear()
    mapping.update(merged)
    mapping.update(own)


# -- line numbers, on demand ------------------------------------------------------------


Walk = Callable[[yaml.Node, str, dict[str, int], list[Any]], None]


class LazyLines(Mapping[str, int]):
    """Pointer → line of the document, computed by composing it on first use."""

    def __init__(self, text: str, walk: Walk) -> None:
        self._text = text
        self._walk = walk
        self._lines: dict[str, int] | None = None
        self._issues: list[Any] = []  # what the walk found (duplicate keys)

    def _computed(self) -> dict[str, int]:
        if self._lines is None:
            lines: dict[str, int] = {}
            root = yaml.compose(self._text, Loader=_Loader)
            if root is not None:
                self._walk(root, "", lines, self._issues)
            self._lines = lines
        return self._lines

    def walk_issues(self) -> list[Any]:
        """The problems the walk over the node tree reports (duplicate keys)."""
        self._computed()
        return list(self._issues)

    def __getitem__(self, pointer: str) -> int:
        return self._computed()[pointer]

    def __contains__(self, pointer: object) -> bool:
        return pointer in self._computed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._computed())

    def __len__(self) -> int:
        return len(self._computed())
