"""The export's YAML: exactly what `yaml.dump(obj, sort_keys=True, default_flow_style=False,
allow_unicode=True)` writes with PyYAML's safe dumper, built faster for objects decoded from JSON.

PyYAML's safe representer and resolver are pure Python even when libyaml emits, and dominate an
export's CPU after the file writes. Here a JSON-shaped object (dict, list, str,
int, float, bool, None) becomes the same node tree in one specialised pass, and the resolver's answer
for each scalar (regular expressions over the value) is remembered, since the same keys and values
recur in every object. The nodes still go to libyaml's emitter (or PyYAML's own where PyYAML was built
without libyaml), which chooses every scalar's style as before: the bytes are the same.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# libyaml's emitter when PyYAML was built with it.
Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

STR, INT, BOOL, NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
MAP, SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=65536)
def _resolved(value: str, implicit: tuple[bool, bool]) -> str:
    # The implicit resolvers are class data, fixed once PyYAML is imported (and the dumper adds no path
    # resolvers): the answer depends on the value alone.
    return _RESOLVER.resolve(ScalarNode, value, implicit)  # type: ignore[no-untyped-call,no-any-return]


class _FastDumper(Dumper):  # type: ignore[misc,valid-type]
    """The safe dumper with the node tree built in one pass and the scalar resolver memoised."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _resolved(value, tuple(implicit))
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]

    def represent_data(self, data: Any) -> Node:
        return self._node(data, {})

    def _node(self, data: Any, seen: dict[int, Node]) -> Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(STR, data)
        if kind is dict or kind is list:
            # A container met twice is an alias in PyYAML's output (JSON never decodes to one, but a
            # caller's object might): the node already built, as its representer returns it.
            found = seen.get(id(data))
            if found is not None:
                return found
            if kind is dict:
                pairs: list[tuple[Node, Node]] = []
                seen[id(data)] = mapping = MappingNode(MAP, pairs, flow_style=False)
                items = list(data.items())
                try:
                    items = sorted(items)
                except TypeError:
                    pass  # keys of mixed types: PyYAML then keeps the mapping's own order
                for key, value in items:
                    pairs.append((self._node(key, seen), self._node(value, seen)))
                return mapping
            values: list[Node] = []
            seen[id(data)] = sequence = SequenceNode(SEQ, values, flow_style=False)
            values.extend(self._node(item, seen) for item in data)
            return sequence
        if kind is bool:
            return ScalarNode(BOOL, "true" if data else "false")
        if kind is int:
            return ScalarNode(INT, str(data))
        if data is None:
            return ScalarNode(NULL, "null")
        # Floats and anything JSON does not decode to: PyYAML's own representer, subtree and all.
        self.alias_key = None
        return super().represent_data(data)  # type: ignore[no-any-return]


def dump(obj: Any) -> str:
    """Stable YAML: sorted keys, block style, so two exports of the same state are byte-identical."""
    stream = io.StringIO()
    dumper = _FastDumper(stream, default_flow_style=False, allow_unicode=True, sort_keys=True)
    try:
        dumper.open()
        dumper.represent(obj)
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


def reference_dump(obj: Any) -> str:
    """PyYAML's own dump with the same options: what `dump` must equal, byte for byte."""
    return yaml.dump(obj, Dumper=Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)
