"""Ranked search over tools, for ``fastn_search_tools`` (toolsets in ``mode: search``).

BM25 over weighted fields: the name counts most, then the title, the description, and
the parameters' names and descriptions. Words are lower-cased, split at punctuation,
underscores and camelCase, stemmed lightly (plural and verb endings) and mapped onto one
word per group of synonyms ("post" and "send", "channel" and "conversation"), so a
query in plain words finds the tool that speaks API. The index is built once per
catalog; a query scores only the tools that contain one of its words, then keeps the
ones the caller may see.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import mcp_types as types

K1 = 1.2
B = 0.75
# Field weights: a word in the name says more about the tool than one in a parameter.
NAME, TITLE, DESCRIPTION, PARAM_NAME, PARAM_DESCRIPTION = 3.0, 2.0, 1.0, 1.0, 0.5

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or the this that to "
    "with my me i all any some".split()
)
_SYNONYM_GROUPS = (
    "send post publish",
    "message msg messages dm",
    "channel conversation room",
    "create add new make",
    "delete remove destroy erase",
    "get fetch retrieve read show view lookup",
    "list enumerate browse",
    "update edit change modify patch",
    "search find query",
    "user member person people account",
    "customer client buyer",
    "issue ticket bug",
    "reaction emoji react",
    "invoice bill",
    "order purchase",
    "comment reply",
)
SYNONYMS: dict[str, str] = {
    word: group.split()[0] for group in _SYNONYM_GROUPS for word in group.split()
}


def _stem(word: str) -> str:
    """Light suffix stripping: enough to match "messages" with "message"."""
    if len(word) <= 3 or word in SYNONYMS:
        return word
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + keep
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (stopwords dropped)."""
    found = []
    for raw in _WORD.findall(_CAMEL.sub(" ", text)):
        word = raw.lower()
        if word in STOPWORDS:
            continue
        word = SYNONYMS.get(word) or SYNONYMS.get(_stem(word)) or _stem(word)
        found.append(word)
    return found


@dataclass(frozen=True, slots=True)
class SearchHit:
    name: str
    score: float


def _fields(tool: types.Tool) -> Iterable[tuple[str, float]]:
    yield tool.name.replace("_", " "), NAME
    if tool.title:
        yield tool.title, TITLE
    if tool.description:
        yield tool.description, DESCRIPTION
    properties = (tool.input_schema or {}).get("properties")
    if isinstance(properties, Mapping):
        for param, schema in properties.items():
            yield str(param), PARAM_NAME
            described = schema.get("description") if isinstance(schema, Mapping) else None
            if isinstance(described, str):
                yield described, PARAM_DESCRIPTION


class ToolSearchIndex:
    """An inverted index of tools: term -> [(tool, weighted frequency)]."""

    def __init__(self, tools: Iterable[types.Tool]) -> None:
        self._postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self._length: dict[str, float] = {}
        for tool in tools:
            weighted: dict[str, float] = defaultdict(float)
            for text, weight in _fields(tool):
                for term in terms(text):
                    weighted[term] += weight
            self._length[tool.name] = sum(weighted.values())
            for term, tf in weighted.items():
                self._postings[term].append((tool.name, tf))
        count = len(self._length)
        self._average = (sum(self._length.values()) / count) if count else 1.0
        self._idf = {
            term: math.log(1.0 + (count - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self._postings.items()
        }

    def __len__(self) -> int:
        return len(self._length)

    def search(self, query: str, allowed: Collection[str], limit: int) -> list[SearchHit]:
        """The best ``limit`` tools among ``allowed`` for ``query``, best first."""
        scores: dict[str, float] = defaultdict(float)
        for term in set(terms(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for name, tf in self._postings[term]:
                if name not in allowed:
                    continue
                norm = K1 * (1.0 - B + B * self._length[name] / self._average)
                scores[name] += idf * tf * (K1 + 1.0) / (tf + norm)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [SearchHit(name, round(score, 4)) for name, score in ranked[:limit]]
