"""Idle-group expiry: the state of a group that sent nothing for a while is dropped.

Kapacitor keeps every group it ever saw for the life of a task: windows, derivative and alert
states, join buffers, httpOut results. Where hosts, containers or pods come and go, that memory
grows without bound (Kapacitor issues #1157, #1255, #2471); its only answer is adding
``barrier().idle(d).delete(TRUE)`` after every groupBy by hand. kapfast can do this for every
task: with a group expiry set, the nodes that form groups (``from``, ``groupBy``, ``query``,
``join``) remember when each of their groups last sent data, and a group idle for longer than the
expiry is deleted downstream (``DeleteGroup``), exactly as a barrier's delete would, but without
the Barrier message (windows are dropped, not flushed: a stream window only closes on a later
point, and an idle group sends none).

Idle time is measured on the task's clock: wall time when live, data time in a replay. Off by
default, so a task behaves as in Kapacitor unless asked.
"""

from __future__ import annotations

from collections.abc import Iterable

from kapfast.engine.messages import Group

#: groups deleted between two looks at the time budget (Task.tick: ``EXPIRY_BUDGET_NS``)
EXPIRY_SLICE = 512
#: the longest a task's tick spends deleting idle groups; the rest wait for the next tick
EXPIRY_BUDGET_NS = 20_000_000

#: node kinds whose output groups are their own (not their parent's)
GROUP_FORMING = frozenset({"from", "groupBy", "query", "join"})


class GroupExpiry:
    """When each group of one node last sent data, oldest first.

    A dict keeps insertion order, and a touched group is moved to the end, so the idle groups
    are always at the front: finding them costs only the groups that expire."""

    __slots__ = ("after_ns", "expired", "last")

    def __init__(self, after_ns: int) -> None:
        if after_ns <= 0:
            raise ValueError("group expiry must be positive")
        self.after_ns = after_ns
        self.last: dict[str, tuple[Group, int]] = {}
        #: groups dropped so far (the node's ``groups_expired`` stat)
        self.expired = 0

    def touch(self, groups: Iterable[Group], now_ns: int) -> None:
        last = self.last
        pop = last.pop
        for g in groups:
            pop(g.id, None)
            last[g.id] = (g, now_ns)

    def touch_one(self, group: Group, now_ns: int) -> None:
        self.last.pop(group.id, None)
        self.last[group.id] = (group, now_ns)

    def forget(self, group_id: str) -> None:
        self.last.pop(group_id, None)

    def due(self, now_ns: int, most: int | None = None) -> list[Group]:
        """The groups idle for at least the expiry at ``now_ns`` (the ``most`` oldest of them);
        they are forgotten here."""
        out: list[Group] = []
        last = self.last
        limit = now_ns - self.after_ns
        for g, t in last.values():
            if t > limit or (most is not None and len(out) >= most):
                break
            out.append(g)
        for g in out:
            del last[g.id]
        self.expired += len(out)
        return out

    def __len__(self) -> int:
        return len(self.last)
