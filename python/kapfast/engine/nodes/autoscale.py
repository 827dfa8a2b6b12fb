"""``k8sAutoscale``, ``swarmAutoscale``, ``ec2Autoscale``: set a resource's replica count from a
lambda, and emit a point for every change made.

The decisions are Kapacitor's (``autoscale.go``), per point:

* the resource is ``.resourceName/.serviceName/.groupName`` or the value of the ``...Tag`` tag;
  the first time a resource is seen its replica count is read from the orchestrator;
* ``.replicas(lambda)`` gives the wanted count (an int; ``.currentField(name)`` puts the current
  count in the scope as an int field, unless the point has a field of that name), bounded by
  ``.max`` (when > 0) then ``.min``;
* no change: nothing. An increase within ``.increaseCooldown`` of the last increase of that
  resource (by point time), or a decrease within ``.decreaseCooldown`` of the last decrease, is
  dropped (``cooldown_drops``);
* otherwise the orchestrator is asked to set it; only when that works is the new count kept and
  ``increase_events``/``decrease_events`` counted, and a point emitted: the input's name, the
  group's tags plus the resource tags (k8s ``namespace kind resource``, renamed by
  ``.namespaceTag/.kindTag/.resourceTag``; swarm/ec2 ``.outputServiceNameTag/.outputGroupNameTag``,
  by default the input tag's name), fields ``old`` and ``new`` (ints), the point's time.

Resources are keyed by name across groups, as Kapacitor keys them (k8s: the name alone).
Orchestrator calls are synchronous in the task, as in Kapacitor, but bounded by a 10 s timeout.
Where the replicas lambda reads ``.currentField`` it is evaluated point by point (its input
depends on the previous decision); otherwise once per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kapfast.autoscale.base import AutoscaleError, Scaler
from kapfast.autoscale.clusters import SERVICE_KEY, Clusters
from kapfast.batch import PointBatch, batch_default
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.predicate import BatchPredicate
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Lambda
from kapfast.tick.pipeline import Node as NodeSpec

_KINDS = {"old": "integer", "new": "integer"}


@dataclass
class ResourceState:
    current: int
    last_increase: int | None = None  # point time (ns) of the last increase made
    last_decrease: int | None = None


@dataclass(frozen=True)
class Resource:
    """What one point names: the key the state is kept by, the orchestrator's address of it,
    and the tags the emitted point gets for it."""

    key: str
    namespace: str
    kind: str
    name: str
    tags: tuple[tuple[str, str], ...] = field(default=())


class AutoscaleNode(Node):
    """The decisions; the subclasses say how a point names its resource."""

    may_wait = True  # for the orchestrator's API

    #: the ``[[section]]`` of the orchestrator and the words of Kapacitor's start-up error
    section = ""
    client_error = ""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.min = int(spec.prop("min", 1) or 0)
        self.max = int(spec.prop("max", 0) or 0)
        if self.min < 1:
            raise TaskError(f"{self.name}: minimum count must be >= 1, got {self.min}")
        replicas = spec.properties.get("replicas")
        if not isinstance(replicas, Lambda):
            raise TaskError(f"{self.name}: must provide a replicas lambda expression")
        self.expr = BatchPredicate(replicas.ast)
        self.current_field = str(spec.prop("currentField") or "")
        self.per_point = bool(self.current_field) and self.current_field in self.expr.program.references
        self.increase_cooldown = dur_ns(spec.prop("increaseCooldown"))
        self.decrease_cooldown = dur_ns(spec.prop("decreaseCooldown"))
        self.states: dict[str, ResourceState] = {}
        self.stats.extra = {"increase_events": 0, "decrease_events": 0, "cooldown_drops": 0}
        self.cluster = str(spec.prop("cluster") or "default")
        clusters = ctx.services.get(SERVICE_KEY)
        try:
            if not isinstance(clusters, Clusters):
                raise AutoscaleError(f"no {self.section} cluster is configured")
            clusters.get(self.section, self.cluster)
        except AutoscaleError as e:
            raise TaskError(
                f"{self.name}: cannot use the {spec.kind} node, {self.client_error}: {e}"
            ) from None
        self.clusters = clusters

    def snapshot_state(self) -> bytes:
        """Every resource's replica count and cooldown times, and the replicas lambda's state."""
        meta, blob = self.expr.snapshot()
        states = {k: [s.current, s.last_increase, s.last_decrease] for k, s in self.states.items()}
        return checkpoint.pack({"states": states, "lambda": meta}, blob)

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.expr.restore(meta["lambda"], blobs[0])
            states = {
                str(k): ResourceState(int(c), None if i is None else int(i), None if d is None else int(d))
                for k, (c, i, d) in meta["states"].items()
            }
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.states = states

    @property
    def scaler(self) -> Scaler:
        """Looked up on every use: a config API change of the section applies at once."""
        return self.clusters.get(self.section, self.cluster)

    # --- the resource of a point (per kind) ----------------------------------------------------

    def resource(self, tags: dict[str, str]) -> Resource:
        raise NotImplementedError

    def _name(self, fixed: str, tag: str, tags: dict[str, str], what: str) -> str:
        if fixed:
            name = fixed
        elif tag:
            name = tags.get(tag, "")
        else:
            raise AutoscaleError(f"expected one of {what} or {what}Tag to be set")
        if not name:
            raise AutoscaleError("could not determine the name of the resource")
        return name

    # --- messages ------------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        groups = chunk.groups
        self._handle(chunk.batch, [groups[c] for c in chunk.codes.tolist()], None)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self._handle(batch.points, [batch.group] * len(batch.points), batch.name)

    def _handle(self, points: PointBatch, groups: list[Group], name: str | None) -> None:
        n = len(points)
        if not n:
            return
        rows = points.rows()  # few points reach an autoscale node: an aggregate per period
        ids = [g.id for g in groups]
        values: list[Any] | None = None
        kind = ""
        self.eval_error: str | None = None
        if not self.per_point:
            kind, values, _errors, self.eval_error = self.expr.eval_rows(
                points, ids, np.arange(n), self.ctx.now_ns()
            )
        out_rows: list[tuple[str, dict[str, str], dict[str, int], int]] = []
        out_groups: list[Group] = []
        errors = 0
        first_error: str | None = None
        for i, (measurement, tags, _fields, t) in enumerate(rows):
            try:
                res = self.resource(tags)
                state = self.states.get(res.key)
                if state is None:
                    try:
                        current = self.scaler.replicas(res.namespace, res.kind, res.name)
                    except AutoscaleError as e:
                        raise AutoscaleError(
                            f"could not determine initial scale for {res.name!r}: {e}"
                        ) from None
                    state = self.states[res.key] = ResourceState(current)
                wanted = self._wanted(points, i, ids[i], state.current, kind, values)
                event = self._decide(res, state, wanted, t)
            except AutoscaleError as e:
                errors += 1
                first_error = first_error or str(e)
                continue
            if event is None:
                continue
            old, new = event
            g = groups[i]
            out_tags = {**dict(g.tags), **dict(res.tags)}
            out_rows.append((name or measurement, out_tags, {"old": old, "new": new}, t))
            out_groups.append(g)
        self.error(errors, first_error)
        if out_rows:
            batch = PointBatch.from_rows(out_rows, _KINDS)
            distinct: dict[str, int] = {}
            glist: list[Group] = []
            for g in out_groups:
                if g.id not in distinct:
                    distinct[g.id] = len(glist)
                    glist.append(g)
            codes = np.array([distinct[g.id] for g in out_groups], dtype=np.uint32)
            self.emit(StreamChunk(batch, codes, glist))

    def _wanted(
        self, points: PointBatch, i: int, gid: str, current: int, kind: str, values: list[Any] | None
    ) -> int:
        """The replicas lambda's value for row ``i``."""
        if values is None:
            one = points.take(np.array([i], dtype=np.intp))
            # the current count is in scope unless the point has a field of that name
            one = batch_default(one, [(self.current_field, current)], [])[0]
            kind, vals, _errors, first = self.expr.eval_rows(one, [gid], np.zeros(1), self.ctx.now_ns())
            if vals[0] is None:
                raise AutoscaleError(f"failed to evaluate the replicas expression: {first}")
            value = vals[0]
        else:
            value = values[i]
            if value is None:
                raise AutoscaleError(f"failed to evaluate the replicas expression: {self.eval_error}")
        if kind != "int":
            raise AutoscaleError(
                f"failed to evaluate the replicas expression: expression returned {kind}, expected int"
            )
        return int(value)

    def _decide(self, res: Resource, state: ResourceState, wanted: int, t: int) -> tuple[int, int] | None:
        """(old, new) when the count was changed; the state changes only then."""
        old = state.current
        new = wanted
        if self.max > 0 and new > self.max:
            new = self.max
        if new < self.min:
            new = self.min
        if new == old:
            return None
        increase = new > old
        last = state.last_increase if increase else state.last_decrease
        cooldown = self.increase_cooldown if increase else self.decrease_cooldown
        if last is not None and t < last + cooldown:
            self.stats.extra["cooldown_drops"] += 1
            return None
        self.log.debug("%s: setting replicas for %s from %d to %d", self.name, res.name, old, new)
        try:
            self.scaler.set_replicas(res.namespace, res.kind, res.name, new)
        except AutoscaleError as e:
            raise AutoscaleError(
                f"failed to apply scaling event: failed to set new replica count: {e}"
            ) from None
        state.current = new
        if increase:
            state.last_increase = t
            self.stats.extra["increase_events"] += 1
        else:
            state.last_decrease = t
            self.stats.extra["decrease_events"] += 1
        return old, new


class K8sAutoscaleNode(AutoscaleNode):
    section = "kubernetes"
    client_error = "could not create kubernetes client"

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.resource_name = str(spec.prop("resourceName") or "")
        self.resource_name_tag = str(spec.prop("resourceNameTag") or "")
        # as Kapacitor: an empty .namespace() is Kubernetes' "default", not the client's
        self.namespace = str(spec.prop("namespace") or "default")
        self.kind = str(spec.prop("kind") or "deployments")
        self.out_tags = [
            (str(spec.prop("namespaceTag") or ""), "ns"),
            (str(spec.prop("kindTag") or ""), "kind"),
            (str(spec.prop("resourceTag") or ""), "name"),
        ]

    def resource(self, tags: dict[str, str]) -> Resource:
        name = self._name(self.resource_name, self.resource_name_tag, tags, "ResourceName")
        parts = {"ns": self.namespace, "kind": self.kind, "name": name}
        out = tuple((tag, parts[what]) for tag, what in self.out_tags if tag)
        return Resource(name, self.namespace, self.kind, name, out)


class _NamedAutoscaleNode(AutoscaleNode):
    """swarm and ec2: a resource is a name (``.<prop>()`` or the ``.<prop>Tag()`` tag), tagged on
    the emitted point as ``.output<Prop>Tag()``, by default the input tag's name."""

    prop = ""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fixed = str(spec.prop(self.prop) or "")
        self.tag = str(spec.prop(self.prop + "Tag") or "")
        self.output_tag = (
            str(spec.prop("output" + self.prop[0].upper() + self.prop[1:] + "Tag") or "") or self.tag
        )

    def resource(self, tags: dict[str, str]) -> Resource:
        name = self._name(self.fixed, self.tag, tags, self.prop[0].upper() + self.prop[1:])
        return Resource(name, "", "", name, ((self.output_tag, name),) if self.output_tag else ())


class SwarmAutoscaleNode(_NamedAutoscaleNode):
    section = "swarm"
    client_error = "could not create swarm client"
    prop = "serviceName"


class Ec2AutoscaleNode(_NamedAutoscaleNode):
    section = "ec2"
    client_error = "could not create ec2 client"
    prop = "groupName"
