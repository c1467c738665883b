"""Ranked search over tools, for ``fastn_search_tools`` (toolsets in ``mode: search``).

BM25F over weighted fields: the name counts most, then the title, the description, and
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
# BM25F: each field is normalised by its own length, then weighted. A word in the name
# says more than one in a parameter's description; a short name that is all query
# beats a long one that merely contains it.
NAME, TITLE, DESCRIPTION, PARAMS = "name", "title", "description", "params"
WEIGHTS = {NAME: 3.0, TITLE: 2.0, DESCRIPTION: 1.0, PARAMS: 0.5}
LENGTH_NORM = {NAME: 0.8, TITLE: 0.6, DESCRIPTION: 0.75, PARAMS: 0.75}
# Up to this much extra for a tool whose name the query covers: "create an issue"
# prefers issues_create to reactions_create_for_issue.
NAME_COVERAGE_BONUS = 0.5

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
    "repository repo",
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


def _fields(tool: types.Tool) -> Iterable[tuple[str, str]]:
    yield NAME, tool.name.replace("_", " ")
    if tool.title:
        yield TITLE, tool.title
    if tool.description:
        yield DESCRIPTION, tool.description
    properties = (tool.input_schema or {}).get("properties")
    if isinstance(properties, Mapping):
        for param, schema in properties.items():
            yield PARAMS, str(param)
            described = schema.get("description") if isinstance(schema, Mapping) else None
            if isinstance(described, str):
                yield PARAMS, described


class ToolSearchIndex:
    """An inverted index of tools: term -> [(tool, normalised weighted frequency)]."""

    def __init__(self, tools: Iterable[types.Tool]) -> None:
        counts: list[tuple[str, dict[str, dict[str, int]]]] = []
        totals: dict[str, int] = defaultdict(int)
        # The name's words after the connector prefix (slack_, fastn_).
        self._name_terms: dict[str, frozenset[str]] = {}
        for tool in tools:
            self._name_terms[tool.name] = frozenset(terms(tool.name.partition("_")[2]))
            by_field: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for field, text in _fields(tool):
                for term in terms(text):
                    by_field[field][term] += 1
            for field, found in by_field.items():
                totals[field] += sum(found.values())
            counts.append((tool.name, by_field))
        count = len(counts)
        average = {field: max(total / max(count, 1), 1.0) for field, total in totals.items()}
        self._postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for name, by_field in counts:
            weighted: dict[str, float] = defaultdict(float)
            for field, found in by_field.items():
                length = sum(found.values())
                b = LENGTH_NORM[field]
                norm = 1.0 - b + b * length / average[field]
                for term, tf in found.items():
                    weighted[term] += WEIGHTS[field] * tf / norm
            for term, score in weighted.items():
                self._postings[term].append((name, score))
        self._count = count
        self._idf = {
            term: math.log(1.0 + (count - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self._postings.items()
        }

    def __len__(self) -> int:
        return self._count

    def search(self, query: str, allowed: Collection[str], limit: int) -> list[SearchHit]:
        """The best ``limit`` tools among ``allowed`` for ``query``, best first."""
        scores: dict[str, float] = defaultdict(float)
        wanted = set(terms(query))
        for term in wanted:
            idf = self._idf.get(term)
            if idf is None:
                continue
            for name, tf in self._postings[term]:
                if name in allowed:
                    scores[name] += idf * tf * (K1 + 1.0) / (tf + K1)
        for name, score in scores.items():
            words = self._name_terms[name]
            if words:
                covered = len(words & wanted) / len(words)
                scores[name] = score * (1.0 + NAME_COVERAGE_BONUS * covered)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [SearchHit(name, round(score, 4)) for name, score in ranked[:limit]]
