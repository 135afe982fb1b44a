"""A mapping that forgets its least recently used entries: the plugin's memos never grow.

Pre's seen definitions, Post's prepared objects and the Events and log lines the plugin
throttles are all keyed by something users control (a Cluster's bytes, a problem's text);
each is kept in a `Recent` of fixed size, so a stream of distinct Clusters costs memory once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most ``size`` entries; `get` and `put` make an entry the most recent."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The value, made the most recent, or None."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as the most recent; the oldest entry goes when full."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
