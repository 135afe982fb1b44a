"""Plan, then write: what to do with each desired object, and doing only that.

`plan` reads (one `get` per object) and `decide`s; `execute` writes. Between them the caller
can refuse changes the API server would reject half-way (shrinking a volume), so nothing is
half-applied. Both work on any `Applier`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from cnpg_wal_replica.kube.compare import up_to_date
from cnpg_wal_replica.kube.interface import Applier
from cnpg_wal_replica.specs import pvc_policy


class Verb(Enum):
    """What `execute` will do with one object."""

    CREATE = "created"
    UPDATE = "updated"
    NONE = "unchanged"


@dataclass(frozen=True)
class Action:
    """One desired object, the live one (if any), and what to do."""

    desired: dict[str, Any]
    live: dict[str, Any] | None
    verb: Verb

    @property
    def kind(self) -> str:
        """The object's kind."""
        return str(self.desired["kind"])

    @property
    def name(self) -> str:
        """The object's name."""
        return str(self.desired["metadata"]["name"])


def decide(desired: dict[str, Any], live: dict[str, Any] | None) -> Action:
    """Pure: what to do with ``desired`` (stamped by `with_hash`) given the live object."""
    if live is None:
        return Action(desired, live, Verb.CREATE)
    if up_to_date(desired, live) and not pvc_policy.is_kept(live):
        return Action(desired, live, Verb.NONE)
    return Action(desired, live, Verb.UPDATE)


async def plan(applier: Applier, objects: list[dict[str, Any]]) -> list[Action]:
    """Read each object (stamped by `with_hash`) and decide what to do (reads only)."""
    actions = []
    for obj in objects:
        meta = obj["metadata"]
        live = await applier.get(obj["kind"], meta["name"], meta["namespace"])
        actions.append(decide(obj, live))
    return actions


async def execute(applier: Applier, actions: list[Action]) -> list[Action]:
    """Apply every action that changes something; returns those that did.

    A kept object (labelled when its Cluster dropped the plugin) is adopted again: the
    label goes before the apply.
    """
    done = []
    for action in actions:
        if action.verb is Verb.NONE:
            continue
        if pvc_policy.is_kept(action.live):
            namespace = action.desired["metadata"]["namespace"]
            await applier.patch_labels(action.kind, action.name, namespace, pvc_policy.ADOPTED)
        await applier.apply(action.desired)
        done.append(action)
    return done
