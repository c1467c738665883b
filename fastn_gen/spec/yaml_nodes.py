"""Turn a composed YAML node tree into values, faster than PyYAML's constructor.

libyaml composes Stripe's 4 MB description into nodes in about 0.3 s; PyYAML's generic
constructor then took another 0.2 s (per-node dispatch, state kept for aliases and
generators). Specs use plain mappings, sequences, scalars and anchors, which this
builds directly, with the spec loader's rules: keys as written, timestamps as strings.
Anything else (merge keys, explicit tags) raises :class:`Unsupported`, and the caller
uses the full loader instead, so its values and errors stay those of the full loader.
"""

from __future__ import annotations

import json
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_CONSTRUCTOR = SafeConstructor()
_SCALARS = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    )
}


class Unsupported(Exception):
    """A node this module leaves to the full loader."""


def values(node: Node | None) -> Any:
    """The value of a composed document (None for an empty one)."""
    if node is None:
        return None
    return _Builder().value(node)


class _Builder:
    def __init__(self) -> None:
        # Aliases are the same node object: they become the same value, as in PyYAML.
        self.built: dict[int, Any] = {}

    def value(self, node: Node) -> Any:
        tag = node.tag
        if type(node) is ScalarNode:
            if tag == _STR:
                return node.value
            return self._scalar(node)
        found = self.built.get(id(node))
        if found is not None:
            return found
        if type(node) is MappingNode and tag == _MAP:
            out: dict[str, Any] = {}
            self.built[id(node)] = out
            for key_node, value_node in node.value:
                if type(key_node) is ScalarNode:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        raise Unsupported("merge key")
                    key = str(key_node.value)
                else:
                    key = json.dumps(self.value(key_node), default=str)
                out[key] = self.value(value_node)
            return out
        if type(node) is SequenceNode and tag == _SEQ:
            items: list[Any] = []
            self.built[id(node)] = items
            items.extend(self.value(item) for item in node.value)
            return items
        raise Unsupported(tag)

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _TIMESTAMP:
            return str(node.value)
        construct = _SCALARS.get(node.tag)
        if construct is None:
            raise Unsupported(node.tag)
        return construct(_CONSTRUCTOR, node)
