"""Python names for generated input models: class names and field identifiers.

Argument names come from vendor specs and may be anything (``per-page``, ``$filter``,
``class``, ``json``, ``2fa``, unicode). Each becomes an ASCII identifier that is not a
keyword, does not shadow a pydantic model attribute, and does not shadow any name the
generated class bodies refer to (``list``, ``Field``, ``re``, nested class names...):
inside a class body such a field would hide the name from later annotations.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable

from fastn_gen.runtime.operation import NestedInput

# Names the generated builders use, at module level or inside class bodies, plus the
# names pycodestyle calls ambiguous (E741).
USED_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "AuthSpec",
        "BeforeValidator",
        "BodySpec",
        "CONNECTOR",
        "ConfigDict",
        "ConnectorSpec",
        "Field",
        "I",
        "INPUT_MODELS",
        "LazyModels",
        "Literal",
        "NestedInput",
        "O",
        "OPERATIONS",
        "Operation",
        "ParamSpec",
        "StrictBool",
        "StrictFloat",
        "StrictInt",
        "StrictStr",
        "ToolInput",
        "annotations",
        "classmethod",
        "dict",
        "json_boolean",
        "json_integer",
        "l",
        "list",
        "model_validator",
        "re",
        "schema_check",
        "str",
    }
)
# Every attribute of the model bases: a field of that name would shadow a method.
MODEL_ATTRIBUTES = frozenset(dir(NestedInput))

_NON_IDENT = re.compile(r"[^0-9A-Za-z_]+")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def ascii_fold(text: str) -> str:
    """Drop accents and any character without an ASCII form."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def pascal_case(text: str) -> str:
    """``send_message`` → ``SendMessage``; ``X-Api-Version`` → ``XApiVersion``."""
    words = _WORDS.findall(ascii_fold(text))
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        return "Model"
    return "M" + name if name[0].isdigit() else name


def is_plain_identifier(name: str) -> bool:
    """A property name usable as a field as is: no alias needed, nothing shadowed."""
    return (
        name.isascii()
        and name.isidentifier()
        and not name.startswith("_")
        and not keyword.iskeyword(name)
        and name not in USED_NAMES
        and name not in MODEL_ATTRIBUTES
    )


def _identifier_base(name: str) -> str:
    base = _NON_IDENT.sub("_", ascii_fold(name)).strip("_")
    if not base:
        return "field"
    if base[0].isdigit():
        base = "f_" + base
    if keyword.iskeyword(base) or base in USED_NAMES or base in MODEL_ATTRIBUTES:
        base += "_"
    return base


def field_identifiers(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """A unique identifier for every property name, keeping usable names unchanged.

    Names that are already plain identifiers are assigned first, so ``per_page`` keeps
    its name even when ``per-page`` (which would also map to ``per_page``) comes first.
    """
    ordered = list(names)
    used = set(taken)
    result: dict[str, str] = {}
    for name in ordered:
        if is_plain_identifier(name) and name not in used:
            result[name] = name
            used.add(name)
    for name in ordered:
        if name in result:
            continue
        base = _identifier_base(name)
        ident, n = base, 1
        while ident in used:
            n += 1
            ident = f"{base}_{n}"
        result[name] = ident
        used.add(ident)
    return {name: result[name] for name in ordered}


class ClassNames:
    """Allocates unique class names within one builder function."""

    __slots__ = ("_used",)

    def __init__(self) -> None:
        self._used: set[str] = set(USED_NAMES)

    def allocate(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self._used or keyword.iskeyword(name):  # ``None``, ``True``...
            n += 1
            name = f"{wanted}{n}"
        self._used.add(name)
        return name

    def __contains__(self, name: str) -> bool:
        return name in self._used
