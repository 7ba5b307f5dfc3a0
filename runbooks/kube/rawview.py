"""Read-only attribute views of raw API JSON under the kubernetes client's snake_case names, so code
written against typed models (pod.metadata.owner_references[0].kind) reads a raw list unchanged.

The client's model deserialisation converts every field of every object, which dominates a large read
that uses a few of them. A view decodes nothing up front and converts only the fields that are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

# The client's attribute names whose JSON names are not plain camelCase of them.
_SPECIAL = {"_continue": "continue", "_from": "from", "_exec": "exec"}


@lru_cache(maxsize=1024)
def json_name(attribute: str) -> str:
    """`owner_references` -> `ownerReferences`, as the client's models map them."""
    if attribute in _SPECIAL:
        return _SPECIAL[attribute]
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class RawView:
    """One JSON object seen through attributes; absent fields read as None, as on a typed model.

    A map field (labels, annotations, matchLabels) is a dict on a typed model, so a view also reads
    as a mapping: get, keys, items, `in`, len and iteration (not `values`, which a label selector
    expression has as a field)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return view(self._data.get(json_name(attribute)))

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        return self._data


def view(value: Any) -> Any:
    """Objects become views and lists lists of views; scalars stay as they are."""
    if isinstance(value, dict):
        return RawView(value)
    if isinstance(value, list):
        return [view(item) for item in value]
    return value


def list_items(call: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """The items of a typed list call (`core.list_pod_for_all_namespaces`, ...) as views, read as raw JSON."""
    response = call(*args, _preload_content=False, **kwargs)
    body = json.loads(response.data)
    return [RawView(item) for item in body.get("items") or []]
