"""The alert node: levels per point (or per batch), per-group state, events to handlers and topics,
and the data that made an event forwarded to the children, augmented.

Order: rows are handled in arrival order, events are built and delivered in that order, and the
forwarded points keep that order too. Handlers run on the task's thread, each bounded by a timeout,
unless the topic registry delivers asynchronously (the server): then on the node's own
:class:`~kapfast.engine.alert.lane.DeliveryLane`, still in order, so a dead web hook never holds
up the task.
A handler that fails is logged (handler, alert ID, reason) and counted in ``events_dropped`` and
``handler_errors_<kind>`` (kapfast's own node counters); it never stops the task.

``ctx.services`` keys read: ``alert_services`` (``kapfast.engine.alert.services.AlertServices``:
builds the inline handlers, and adds the ``global`` ones), ``alert_topics`` (a
:class:`TopicRegistry`; put there by the first alert node when absent, so tasks sharing one
services dict share topics and inhibitors),
``alert_states`` (a ``kapfast.storage.AlertStateStore``: levels survive restarts, and the server's
topics API reads it), ``alert_gate`` (a :class:`DeliveryGate`: a cluster worker replaying points whose
events an earlier owner already delivered mutes the deliveries, not the state).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import replace
from operator import attrgetter
from typing import Any

import numpy as np

from kapfast.alert_event import AlertEvent
from kapfast.batch import GroupTable, PointBatch
from kapfast.engine import checkpoint
from kapfast.engine.alert import explain as why
from kapfast.engine.alert.events import Augment, EventRenderer, Row, batch_series, point_series
from kapfast.engine.alert.handlers import AlertHandler, HandlerError
from kapfast.engine.alert.lane import DeliveryLane
from kapfast.engine.alert.levels import LEVEL_PROPS, LambdaError, LevelEvaluator
from kapfast.engine.alert.persistence import LevelPersistence
from kapfast.engine.alert.services import NO_SERVICES, HandlerSpecError
from kapfast.engine.alert.state import LEVEL_BY_NAME, LEVEL_NAMES, OK, GroupState, StateRules, new_store
from kapfast.engine.alert.topics import TopicRegistry, anonymous_topic
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, Group, StreamChunk, codes_array
from kapfast.engine.node import Node
from kapfast.errors import TaskError
from kapfast.gotemplate import TemplateError
from kapfast.tick.pipeline import Duration, Lambda
from kapfast.tick.pipeline import Node as NodeSpec

STAT_KEYS = (
    "alerts_triggered",
    "alerts_inhibited",
    "oks_triggered",
    "infos_triggered",
    "warns_triggered",
    "crits_triggered",
    "events_dropped",
)
_LEVEL_STAT = ("oks_triggered", "infos_triggered", "warns_triggered", "crits_triggered")

#: ``ctx.services`` keys this node reads
SERVICE_TOPICS = "alert_topics"  # a shared TopicRegistry (one per server)
SERVICE_STATES = "alert_states"  # a kapfast.storage.AlertStateStore
SERVICE_ALERT = "alert_services"  # a kapfast.engine.alert.services.AlertServices
SERVICE_GATE = "alert_gate"  # a DeliveryGate


class DeliveryGate:
    """Shared by a server's alert nodes. While ``muted`` (set by a cluster worker around the
    points it replays after a takeover, which the previous owner had already applied: see
    kapfast.cluster.worker), events are built and recorded (levels, topics' states, the alert
    state store) as usual but not handed to any handler: they were delivered once already."""

    __slots__ = ("muted", "suppressed")

    def __init__(self) -> None:
        self.muted = False
        #: events not delivered because they were muted (kapfast's own count)
        self.suppressed = 0


#: a chunk-local group without rows (listed by the chunk, used by none of its rows)
_NO_STATE = 0xFFFF_FFFF
#: chunks up to this many rows find their new groups' first rows in a Python loop (_create_chunk_groups)
_FEW_ROWS = 16
_ID = attrgetter("id")


def _rules(spec: NodeSpec) -> StateRules:
    props = spec.properties
    history = spec.prop("history", 21)
    flap = props.get("flapping")
    flapping: tuple[float, float] | None = None
    if isinstance(flap, list) and len(flap) == 2:
        flapping = (float(flap[0]), float(flap[1]))
    sco = props.get("stateChangesOnly")
    max_interval = sco.ns if isinstance(sco, Duration) else 0
    return StateRules(
        history=int(history) if isinstance(history, int) else 21,
        flapping=flapping,
        state_changes_only=sco is not None and sco is not False,
        max_interval_ns=max_interval,
        no_recoveries=bool(props.get("noRecoveries")),
    )


def _inhibits(spec: NodeSpec) -> list[tuple[str, tuple[str, ...]]]:
    raw = spec.properties.get("inhibit") or []
    out: list[tuple[str, tuple[str, ...]]] = []
    for item in raw:
        if isinstance(item, list) and item and isinstance(item[0], str):
            out.append((item[0], tuple(str(t) for t in item[1:])))
    return out


class AlertNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.levels = LevelEvaluator(spec)
        self.renderer = EventRenderer(spec, ctx)
        self.augment = Augment.from_spec(spec)
        self.rules = _rules(spec)
        self.all = bool(spec.properties.get("all"))
        self.recoverable = not self.rules.no_recoveries
        category = spec.properties.get("category")
        self.category = category if isinstance(category, str) else ""
        self.inhibits = _inhibits(spec)
        if spec.properties.get("snoozeDuration") is not None:
            self.log.warning("%s: .snoozeDuration() is not supported by kapfast yet; ignored", self.name)
        self.stats.extra.update(dict.fromkeys(STAT_KEYS, 0))

        services = ctx.services.get(SERVICE_ALERT)
        self.handlers: list[AlertHandler] = []
        for h in spec.handlers:
            try:
                self.handlers.append((services or NO_SERVICES).build_inline(h))
            except HandlerSpecError as e:
                raise TaskError(f"{self.name}: line {h.line}: .{h.kind}(): {e}") from None
        #: the inline handlers' own thread in the server (made on the first event)
        self.lane: DeliveryLane | None = None
        self._lane_capacity = services.topic_buffer_length if services is not None else 5000
        self._dropped_lock = threading.Lock()
        if services is not None:
            # `global = true` services alert for every alert node (Kapacitor's newAlertNode)
            self.handlers += services.global_handlers({h.kind for h in spec.handlers})
            if services.state_changes_only() and not self.rules.state_changes_only:
                self.rules = replace(self.rules, state_changes_only=True)
        # The first alert node puts a registry into the services; when the engine shares one
        # services dict between its tasks, their alerts share topics and inhibitors.
        registry = ctx.services.setdefault(SERVICE_TOPICS, TopicRegistry())
        if not isinstance(registry, TopicRegistry):
            raise TaskError(f"{self.name}: services[{SERVICE_TOPICS!r}] is not a TopicRegistry")
        self.registry: TopicRegistry = registry
        gate = ctx.services.get(SERVICE_GATE)
        self.gate = gate if isinstance(gate, DeliveryGate) else None
        # Kapacitor makes the anonymous topic only for a node with handlers; a test harness
        # (services["alert_tap"]) wants every node's events, handlers or not.
        anon = bool(self.handlers) or bool(ctx.services.get("alert_tap"))
        self.anon_topic = anonymous_topic(ctx.task_master, ctx.task_id, self.name) if anon else ""
        topic = spec.properties.get("topic")
        self.topic = topic if isinstance(topic, str) else ""
        self.topics = [t for t in (self.anon_topic, self.topic) if t]
        store = ctx.services.get(SERVICE_STATES)
        self.persistence = LevelPersistence(store, ctx.task_id, self.name, self.log) if store else None
        if self.persistence is not None:
            for t in self.topics:
                self.persistence.load(self.registry, t)

        #: every group's alert state, by the group's code (rust/src/alertstate.rs)
        self.states = new_store(self.rules)
        #: the node's groups, each at a slot of a Rust table (#13, #19: a table entry per idle
        #: group, no Python object): its code in the state store and for the level lambdas. A
        #: deleted group's slot goes to the next new group, so the store stays as large as the
        #: most groups held at once, not every group ever seen
        self._table = GroupTable()
        # the table is the groups the node received and has not seen deleted: it is the
        # working_cardinality too, one table per node instead of a second one (Node.held)
        self.held = None
        #: each group's last evaluation and what its events became (``kapfast explain``)
        self.explain_log = why.ExplainLog()
        refs: set[str] = set()
        for prog in (*self.levels.levels, *self.levels.resets):
            if prog is not None:
                refs.update(prog.references)
        if refs:
            self.explain_log.refs = frozenset(refs)

    # --- explain -----------------------------------------------------------------------------

    def group_state(self, group_id: str) -> GroupState | None:
        slot = self._table.get_id(group_id)
        return None if slot is None else GroupState(self.rules, self.states, slot)

    def level_texts(self) -> dict[str, str]:
        """The level and reset lambdas' source text, by property (``crit``, ``warnReset`` ...)."""
        out: dict[str, str] = {}
        for _, prop, reset in LEVEL_PROPS:
            for p in (prop, reset):
                v = self.spec.properties.get(p)
                if isinstance(v, Lambda):
                    out[p] = v.text
        return out

    def explain(self) -> dict[str, object]:
        """Why each group is at its level and whether its last point sent an event."""
        return why.explain_node(self)

    # --- groups ------------------------------------------------------------------------------

    def working_cardinality(self) -> int:
        return len(self._table)

    def _new_group(self, group: Group, name: str, tags: Mapping[str, str] | None) -> int:
        """The slot of a group seen for the first time (``tags`` None: no topic to continue
        its alert from, see :meth:`_restore`)."""
        code = self._table.add(group)
        self.states.reset(code)
        if tags is not None:
            self._restore(GroupState(self.rules, self.states, code), group, name, tags)
        return code

    def _restore(self, st: GroupState, group: Group, name: str, tags: Mapping[str, str]) -> None:
        """A group seen for the first time continues the alert its id had before a restart.

        Like Kapacitor the anonymous topic's state wins over the named topic's."""
        if not self.topics:
            return
        try:
            event_id = self.renderer.render_id(name, group.id, tags)
        except TemplateError:
            return  # reported when the event is built
        for t in self.topics:
            s = self.registry.event_state(t, event_id)
            if s is not None:
                st.restore(LEVEL_BY_NAME.get(s.level, OK), s.time_ns, s.duration_ns)
                return

    # --- checkpoints ---------------------------------------------------------------------------

    def snapshot_state(self) -> bytes:
        """Every group's alert state (level history, flapping, trigger times) and the per-group
        state of the level lambdas. The last level of each event is also in the alert state
        store (it outlives the task); a checkpoint adds what the store does not keep."""
        groups = {
            g.id: [code, GroupState(self.rules, self.states, code).to_json()]
            for code, g in self._table.items()
        }
        return checkpoint.pack({"groups": groups, "next": self._table.end()}, *self.levels.snapshot())

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.levels.restore(blobs)
            states = new_store(self.rules)
            table = GroupTable()
            nxt = int(meta["next"])
            for gid, (code, raw) in meta["groups"].items():
                code = int(code)
                if not 0 <= code < nxt:
                    raise ValueError(f"group code {code} out of range")
                st = GroupState(self.rules, states, code)
                st.load_json(raw)
                # found by id: the group's tags come with its next point
                table.put(code, Group(str(gid)))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.states, self._table = states, table

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        code = self._table.forget(msg.group.id)
        if code is not None:
            self.levels.forget_group(code)
            self.states.reset(code)
        self.explain_log.forget(msg.group.id)
        self.emit(msg)

    # --- stream ------------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        try:
            self._on_chunk(chunk)
        finally:
            if self.persistence is not None:
                self.persistence.flush()

    def _on_chunk(self, chunk: StreamChunk) -> None:
        n = len(chunk)
        if n == 0:
            return
        batch = chunk.batch
        codes = codes_array(chunk)
        groups = chunk.groups
        # each chunk-local group's state code (its lambda-state code too), found in Rust by
        # the group's id hash
        remap: list[int] = array("I", self._table.slots(groups)).tolist()
        if _NO_STATE in remap:
            missing = [i for i, c in enumerate(remap) if c == _NO_STATE]
            self._create_chunk_groups(chunk, codes, remap, missing)
        eval_codes: memoryview | None = None
        if self.levels.stateful:
            state_codes: Any = np.asarray(remap, dtype=np.uint32)[codes]
            eval_codes = memoryview(state_codes)
        table, errors = self.levels.evaluate(batch, eval_codes, self.ctx.now_ns())
        self._lambda_errors(errors)
        self.explain_log.saw_chunk(batch, codes, chunk.groups, table)
        if self.rules.flapping is None and not table.any_match() and self.states.all_ok(remap):
            # Steady state: OK points of OK groups change nothing that matters without flapping
            # (the history only feeds flapping and the previous level, which stays OK).
            return
        # the per-point state machine, in Rust: only the points that make an event come back
        raw_rows, raw_levels, raw_durations = self.states.decide(
            batch, chunk.codes, remap, table.match, table.hold
        )
        if not raw_levels:
            return
        rows = np.frombuffer(raw_rows, dtype="<u4")
        levels = np.frombuffer(raw_levels, dtype=np.uint8)
        if not (self.topics or self.augment.any or self.inhibits or self.category):
            self._fired_unheard(chunk, codes, rows, levels)
            return
        durations = np.frombuffer(raw_durations, dtype="<i8").tolist()
        fired = rows.tolist()
        points = batch.take(rows).rows()
        kept_rows: list[Row] = []
        kept_idx: list[int] = []
        groups = chunk.groups
        unheard = self._no_handler()  # once per chunk, not per event
        for i, lvl, dur, row in zip(fired, levels.tolist(), durations, points, strict=True):
            out = self._fire(lvl, dur, groups[codes[i]], row, row, [row], None, unheard)
            if out is not None:
                kept_rows.extend(out)
                kept_idx.append(i)
        if not kept_idx:
            return
        if self.augment.any:
            out_batch = PointBatch.from_rows(kept_rows, kinds=batch.field_kinds())
        else:
            out_batch = batch.take(kept_idx)
        # the chunk's rows that made an event (its db/rp, groups kept)
        self.emit(chunk.take(kept_idx, out_batch))

    def _fired_unheard(
        self, chunk: StreamChunk, codes: np.ndarray, rows: np.ndarray, levels: np.ndarray
    ) -> None:
        """Events nobody receives (no handler, topic, augmentation, inhibitor or category): what
        :meth:`_fire` does for each, done for all at once: counted, each group's last outcome
        recorded for explain, and the points forwarded."""
        extra = self.stats.extra
        extra["alerts_triggered"] += len(rows)
        for lvl, k in enumerate(np.bincount(levels, minlength=4).tolist()):
            extra[_LEVEL_STAT[lvl]] += k
        fired_codes = codes[rows]
        # each group's last event, the groups in the order of their first event (as a dict of
        # (code, row) pairs would give), by two sorts instead of a Python object per event
        n = len(fired_codes)
        fired_groups, first = np.unique(fired_codes, return_index=True)
        _, from_end = np.unique(fired_codes[::-1], return_index=True)
        order = np.argsort(first, kind="stable")
        last_rows = rows[(n - 1 - from_end)[order]]
        times = np.asarray(chunk.batch.time())[last_rows].tolist()
        ids = map(_ID, map(chunk.groups.__getitem__, fired_groups[order].tolist()))
        self.explain_log.outcomes_of(ids, times, *self._no_handler())
        self.emit(chunk.take(rows))

    def _create_chunk_groups(
        self, chunk: StreamChunk, codes: np.ndarray, remap: list[int], missing: list[int]
    ) -> None:
        # the first row of each new group gives the name and tags its alert id is rendered from
        first: dict[int, int]
        if len(codes) <= _FEW_ROWS:
            # a few rows (a probe, a single write): numpy's sort costs more than the loop
            first = {}
            for i, code in enumerate(codes.tolist()):
                first.setdefault(code, i)
        else:
            uniq, first_rows = np.unique(codes, return_index=True)
            first = dict(zip(uniq.tolist(), first_rows.tolist(), strict=True))
        order = sorted((c for c in missing if c in first), key=first.__getitem__)
        if not self.topics:
            # no topic to continue an alert from (_restore): the rows are not read
            for c in order:
                remap[c] = self._new_group(chunk.groups[c], "", None)
            return
        rows = chunk.batch.take([first[c] for c in order]).rows() if order else []
        for c, row in zip(order, rows, strict=True):
            remap[c] = self._new_group(chunk.groups[c], row[0], row[1])
        # listed without rows: a placeholder no row uses (_NO_STATE), not kept

    # --- batch -------------------------------------------------------------------------------

    def on_batch(self, msg: BatchMessage, port: int) -> None:
        try:
            self._on_batch(msg)
        finally:
            if self.persistence is not None:
                self.persistence.flush()

    def _on_batch(self, msg: BatchMessage) -> None:
        points = msg.points
        n = len(points)
        tags = msg.group.tag_dict
        code = self._table.get(msg.group)
        if code is None:  # received, even empty: held (working_cardinality), as Node.held does
            code = self._new_group(msg.group, msg.name, tags)
        if n == 0:
            return
        eval_codes = [code] * n if self.levels.stateful else None
        table, errors = self.levels.evaluate(points, eval_codes, self.ctx.now_ns())
        self._lambda_errors(errors)
        st = GroupState(self.rules, self.states, code)
        current = st.level
        lowest, highest, hi_row = 3, -1, 0
        for i in range(n):
            lvl = table.level(i, current)
            lowest = min(lowest, lvl)
            if lvl > highest:
                highest, hi_row = lvl, i
        level = lowest if self.all else highest
        times = points.time().to_list()
        t = msg.tmax if self.all or level == OK else times[hi_row]
        self.explain_log.saw_batch(points, hi_row, msg.group, table, t)
        st.update(t, level)
        if not st.should_trigger(level, batch=True):
            return
        st.triggered(t)
        if self.rules.no_recoveries and level == OK:
            return
        rows = points.rows()
        event_row = (msg.name, tags, rows[hi_row][2], t)
        out = self._fire(level, st.duration(), msg.group, event_row, None, rows, tags, self._no_handler())
        if out is None:
            return
        if not self.augment.any:
            self.emit(msg)
            return
        new_points = PointBatch.from_rows(out, kinds=points.field_kinds())
        group = msg.group
        aug = self.augment
        if aug.level_tag or aug.id_tag:
            # Kapacitor tags the batch itself too; downstream (httpOut) reads a batch's tags from
            # its group, so the group carries them (its id and dimensions stay the same).
            added = out[0][1] if out else {}
            batch_tags = dict(group.tags)
            for k in (aug.level_tag, aug.id_tag):
                if k and k in added:
                    batch_tags[k] = added[k]
            group = Group(group.id, group.dims, group.by_measurement, tuple(batch_tags.items()))
        self.emit(replace(msg, group=group, points=new_points))

    def _lambda_errors(self, errors: list[LambdaError]) -> None:
        """A failing level lambda skips that level for the point (Kapacitor logs and goes on)."""
        for e in errors:
            self.stats.errors += e.count
            if not self.spec.properties.get("quiet"):
                self.log.error(
                    "%s: .%s() failed on %d point(s), level skipped for them: %s",
                    self.name,
                    e.what,
                    e.count,
                    e.first,
                )

    # --- events ------------------------------------------------------------------------------

    def _fire(
        self,
        level: int,
        duration: int,
        group: Group,
        event_row: Row,
        point: Row | None,
        rows: list[Row],
        batch_tags: Mapping[str, str] | None,
        unheard: tuple[str | None, str],
    ) -> list[Row] | None:
        """Build and deliver one event; returns the rows to forward (augmented), or None when
        the event could not be built. ``unheard``: :meth:`_no_handler`, for the explain log."""
        name, tags, fields, t = event_row
        level_name = LEVEL_NAMES[level]
        aug = self.augment
        # Render only what someone reads: an alert node without handlers or topic (an alert
        # history written by influxDBOut, say) needs the message and id only for its fields.
        publish = bool(self.topics)
        need_message = publish or bool(aug.message_field)
        need_id = need_message or bool(aug.id_tag or aug.id_field or self.inhibits)
        event_id = message = details = ""
        try:
            if need_id:
                event_id = self.renderer.render_id(name, group.id, tags)
            if need_message:
                message, details = self.renderer.render_message_details(
                    event_id, name, group.id, tags, fields, level_name, t, duration, details=publish
                )
        except TemplateError as e:
            self.stats.errors += 1
            self.log.error("%s: alert template failed, event not sent: %s", self.name, e)
            self.explain_log.outcome(group.id, t, why.TEMPLATE_ERROR, f"the alert template failed: {e}")
            return None
        extra = self.stats.extra
        extra["alerts_triggered"] += 1
        extra[_LEVEL_STAT[level]] += 1
        if self.inhibits:
            self.registry.set_inhibitors((self.name, event_id), self.inhibits, tags, level != OK)
        if self.category and self.registry.is_inhibited(self.category, tags):
            extra["alerts_inhibited"] += 1
            self.explain_log.outcome(
                group.id, t, why.INHIBITED, f"category {self.category!r} is inhibited by another alert"
            )
        elif publish:
            self.explain_log.outcome(group.id, t, *unheard)
            data = (
                [point_series(point)] if point is not None else [batch_series(name, batch_tags or {}, rows)]
            )
            event = AlertEvent(
                id=event_id,
                message=message,
                details=details,
                time_ns=t,
                duration_ns=duration,
                level=level_name,
                data=data,
                recoverable=self.recoverable,
                task_name=self.ctx.task_id,
                name=name,
                group=group.id,
                tags=dict(tags),
                fields=dict(fields),
            )
            self._publish(event)
        else:
            self.explain_log.outcome(group.id, t, *unheard)
        if not aug.any:
            return rows
        return [aug.apply(r, level_name, event_id, message, duration) for r in rows]

    def _publish(self, event: AlertEvent) -> None:
        """Record the event on its topics (giving it its previousLevel) and run the handlers."""
        prev: str | None = None
        for topic in self.topics:
            p = self.registry.record(topic, event)
            if prev is None:
                prev = p  # the anonymous topic's state wins, as in Kapacitor
            if self.persistence is not None:
                self.persistence.save(topic, event)
        if prev is not None:
            event.previous_level = prev
        if self.gate is not None and self.gate.muted:
            self.gate.suppressed += 1
            return
        if self.handlers:
            if self.registry.asynchronous:
                # in the server: a slow or dead handler must not hold up the task (kapfast.engine.alert.lane)
                if self.lane is None:
                    self.lane = DeliveryLane(
                        f"{self.ctx.task_id}/{self.name}", self._lane_capacity, self._deliver_all, self.log
                    )
                start = self._start_all if self.handlers[0].starts_without_waiting else None
                if not self.lane.put(event, start):
                    self._count_dropped(1)
            else:
                self._deliver_all(event)
        for topic in self.topics:
            # handlers defined over the API, on the named topic or even on the anonymous one;
            # they log their own failures
            failed = self.registry.deliver(topic, event, self.ctx.task_id)
            if failed:
                self.explain_log.handler_failed(
                    event.group, event.time_ns, f"topic {topic}", "delivery failed"
                )
            self._count_dropped(failed)

    def _no_handler(self) -> tuple[str | None, str]:
        """(None, "") when someone receives this node's events, else why nobody does."""
        if self.handlers or any(self.registry.handlers(t) or self.registry.entries(t) for t in self.topics):
            return None, ""
        if self.topic:
            return why.NO_HANDLER, f"no handler on the node and none on topic {self.topic!r}"
        return why.NO_HANDLER, "the alert node has no handler (and no .topic())"

    def _count_dropped(self, n: int) -> None:
        if n:
            with self._dropped_lock:  # lanes count from their own thread
                self.stats.extra["events_dropped"] += n

    def _deliver_all(self, event: AlertEvent) -> None:
        self._deliver_some(self.handlers, event)

    def _start_all(self, event: AlertEvent) -> Callable[[], None] | None:
        """Deliver ``event`` to the handlers as far as it goes without waiting (the lane is idle,
        :meth:`DeliveryLane.put`): None when all have it, else the rest, in handler order."""
        handlers = self.handlers
        for i, h in enumerate(handlers):
            if not h.starts_without_waiting:
                rest = handlers[i:]
                return lambda: self._deliver_some(rest, event)
            try:
                finish = h.start(event)
            except HandlerError as e:
                self._failed(h, event, e)
                continue
            if finish is not None:
                after = handlers[i + 1 :]

                def rest_of(
                    h: AlertHandler = h,
                    finish: Callable[[], None] = finish,
                    after: list[AlertHandler] = after,
                ) -> None:
                    try:
                        finish()
                    except HandlerError as e:
                        self._failed(h, event, e)
                    self._deliver_some(after, event)

                return rest_of
        return None

    def _deliver_some(self, handlers: list[AlertHandler], event: AlertEvent) -> None:
        for h in handlers:
            self._deliver(h, event)

    def _deliver(self, h: AlertHandler, event: AlertEvent) -> None:
        try:
            h.handle(event)
        except HandlerError as e:
            self._failed(h, event, e)

    def _failed(self, h: AlertHandler, event: AlertEvent, e: HandlerError) -> None:
        self._count_dropped(1)
        with self._dropped_lock:  # per handler kind: which service is failing (kapfast's own)
            key = f"handler_errors_{h.kind or 'unknown'}"
            self.stats.extra[key] = self.stats.extra.get(key, 0) + 1
        self.explain_log.handler_failed(event.group, event.time_ns, h.describe(), str(e))
        if not e.quiet:
            self.log.error("%s: %s handler, alert %r: %s", self.name, h.describe(), event.id, e)

    # --- end ---------------------------------------------------------------------------------

    def finish(self, port: int = 0) -> None:
        if self.persistence is not None:
            self.persistence.flush()
        if self.lane is not None:
            self.lane.close()  # what is queued is delivered before the handlers close
        for h in self.handlers:
            h.close()
        self.finish_children()


def make_alert_node(spec: NodeSpec, ctx: TaskContext) -> AlertNode:
    """Factory entry point (kind ``alert``)."""
    if spec.kind != "alert":
        raise TaskError(f"{spec.name}: not an alert node ({spec.kind})")
    return AlertNode(spec, ctx)
