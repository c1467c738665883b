"""Errors found in connector specs: always the file, the JSON pointer and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpecIssue:
    file: str
    pointer: str  # RFC 6901 JSON pointer into the document, "" for the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}: {self.message}"


class SpecError(Exception):
    """One or more problems that make a spec unusable. Carries every issue found."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.pointer, i.message))
        super().__init__("\n".join(str(i) for i in self.issues))


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """Build a JSON pointer such as ``/paths/~1users~1{id}/get`` from raw tokens."""
    return "".join("/" + escape_pointer_token(t) for t in tokens)


def pointer_from_loc(loc: Iterable[str | int]) -> str:
    return pointer(*loc)
