"""The node registry: every Kapacitor pipeline node as data.

One declarative table that the compiler checks scripts against and the engine builds from: for
each node kind its edge types (what it wants from its parent, what it provides to its children),
the arguments of the chain method that creates it, its property methods with argument types and
defaults, and, for ``alert``, the inline handlers with their own property methods.

Signatures are written in a compact form parsed once at import:

    "period(duration)"         one argument, stored as the value
    "align()"                  flag, stored as True
    "as(string...)"            variadic, stored as a list
    "stateChangesOnly(duration?)"  optional argument: the value, or True when called bare
    "flapping(float, float)"   several arguments, stored as a list
    "+tag(string, string)"     repeatable: every call appends its argument list
    "+to(string...)"           repeatable with one or variadic arguments: one flat list

Argument types: ``string int float bool duration lambda regex star node time any``; ``a|b``
accepts either. ``any`` is any literal (string, number, bool, duration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kapfast.handler_table import INLINE
from kapfast.tick.pipeline import Duration, value_to_json

# Edge types
STREAM = "stream"
BATCH = "batch"
NONE = "none"
SAME = "same"  # provides what its parent provides (wants too)


@dataclass(frozen=True)
class Method:
    """A chain or property method signature."""

    name: str
    args: tuple[str, ...] = ()  # type of each fixed argument
    variadic: str | None = None  # type of any further arguments
    optional: bool = False  # the (single) argument may be left out
    repeat: bool = False  # each call appends instead of replacing

    @property
    def min_args(self) -> int:
        return 0 if self.optional else len(self.args)

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.args)

    def arg_type(self, i: int) -> str:
        return self.args[i] if i < len(self.args) else (self.variadic or "")

    def signature(self) -> str:
        parts = list(self.args)
        if self.optional and parts:
            parts[-1] += "?"
        if self.variadic:
            parts.append(self.variadic + "...")
        return f"{self.name}({', '.join(parts)})"


def _sig(text: str) -> Method:
    repeat = text.startswith("+")
    text = text.lstrip("+")
    name, rest = text.split("(", 1)
    inner = rest.rstrip(")").strip()
    args: list[str] = []
    variadic = None
    optional = False
    if inner:
        for part in (p.strip() for p in inner.split(",")):
            if part.endswith("..."):
                variadic = part[:-3]
            elif part.endswith("?"):
                optional = True
                args.append(part[:-1])
            else:
                args.append(part)
    return Method(name, tuple(args), variadic, optional, repeat)


def _props(*sigs: str) -> Mapping[str, Method]:
    methods = {m.name: m for m in map(_sig, sigs)}
    return MappingProxyType(methods)


@dataclass(frozen=True)
class HandlerSpec:
    """An inline alert handler (``.log(path)``, ``.post(url)`` ...)."""

    kind: str
    create: Method  # the alert property method that adds the handler
    properties: Mapping[str, Method]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class NodeSpec:
    kind: str  # the chain method name (``mean``, ``httpOut``)
    desc: str  # the name stem Kapacitor uses in node names and DOT (``http_out2``)
    go_type: str  # Kapacitor's Go type, used in error messages users search for
    wants: str
    provides: str
    create: Method  # chain method that creates it (args of the node)
    properties: Mapping[str, Method]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    chains: bool = True  # has the common chain methods (a "chainnode")
    only_chains: tuple[str, ...] = ()  # for sources: the only chain methods allowed
    handlers: Mapping[str, HandlerSpec] = field(default_factory=lambda: MappingProxyType({}))
    internal: bool = False  # not creatable from a script (noop)
    # the class that runs it, "module:Class"; None: kapfast cannot run this kind, and the compiler
    # refuses it (naming it) instead of a task failing at start
    impl: str | None = None
    doc: str = ""  # one line for docs/nodes.md
    #: the node's own counters besides Kapacitor's common stats (``alerts_triggered`` ...), each
    #: from 0
    counters: tuple[str, ...] = ()
    #: Kapacitor runs it on a grouped consumer (``edge.NewGroupedConsumer``; join counts its groups
    #: the same way): its ``working_cardinality`` is the groups it received and has not seen
    #: deleted. Every other kind reports 0, but groupBy, which counts the groups of the batches it
    #: holds (GroupByNode.working_cardinality).
    grouped: bool = False
    #: it keeps state from message to message that a task checkpoint must carry (buffered
    #: points, last values, counters, timers, the per-group state of its lambdas' stateful
    #: functions): its class implements ``snapshot_state``/``restore_state``
    #: (kapfast.engine.checkpoint; tests/engine/test_checkpoint.py checks every such kind).
    #: Not stateful: outputs (httpOut's last result is empty after a restart as in Kapacitor,
    #: influxDBOut flushes its buffer), groupBy (a batch's regrouping ends with the batch), stats
    #: (its ticker restarts with the task), sources.
    stateful: bool = False
    #: it holds points until something closes them (a window, a join or combine set, an output
    #: buffer) and can tell how many without a look at each point: its class implements
    #: ``buffered_points``, shown as kapfast's own ``buffered_points`` node statistic and the
    #: ``kapfast_node_buffered_points`` gauge, never in Kapacitor's node-stats (Kapacitor has no
    #: such statistic). tests/engine/test_buffered_points.py checks both ways.
    buffers: bool = False


_QUIET = "quiet()"
_INFLUXQL_PROPS = _props(_QUIET, "as(string)", "usePointTimes()")

_NODES: dict[str, NodeSpec] = {}
_E = "kapfast.engine.nodes."  # where most implementations live
_AUTOSCALE_COUNTERS = ("increase_events", "decrease_events", "cooldown_drops")


def _node(
    kind: str,
    create: str,
    wants: str,
    provides: str,
    props: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    desc: str | None = None,
    go_type: str | None = None,
    **kw: Any,
) -> None:
    _NODES[kind] = NodeSpec(
        kind=kind,
        desc=desc or kind,
        go_type=go_type or (kind[0].upper() + kind[1:] + "Node"),
        wants=wants,
        provides=provides,
        create=_sig(create),
        properties=_props(_QUIET, *props),
        defaults=MappingProxyType(dict(defaults or {})),
        **kw,
    )


# -- sources ---------------------------------------------------------------------------------------
_node(
    "stream",
    "stream()",
    NONE,
    STREAM,
    only_chains=("from",),
    impl=_E + "basic:SourceNode",
    doc="the source of a stream task: every point written to kapfast",
)
_node(
    "batch",
    "batch()",
    NONE,
    BATCH,
    only_chains=("query", "queryFlux"),
    impl=_E + "basic:SourceNode",
    doc="the source of a batch task: the results of scheduled queries",
)
_node(
    "stats",
    "stats(duration)",
    NONE,
    STREAM,
    ("align()",),
    impl=_E + "stateful:StatsNode",
    doc="emits a node's statistics every interval (what deadman watches)",
)
_node(
    "noop",
    "noop()",
    SAME,
    SAME,
    go_type="NoOpNode",
    internal=True,
    impl=_E + "basic:SourceNode",
    doc="internal: passes everything through",
)

# -- stream and batch entry nodes ------------------------------------------------------------------
_node(
    "from",
    "from()",
    STREAM,
    STREAM,
    (
        "database(string)",
        "retentionPolicy(string)",
        "measurement(string)",
        "where(lambda)",
        "groupBy(string|star...)",
        "groupByMeasurement()",
        "truncate(duration)",
        "round(duration)",
    ),
    stateful=True,
    impl=_E + "basic:FromNode",
    doc="selects the points of a stream (database, retention policy, measurement, where, groupBy)",
)
_QUERY_COMMON = (
    "period(duration)",
    "every(duration)",
    "cron(string)",
    "offset(duration)",
    "align()",
    "cluster(string)",
)
_node(
    "query",
    "query(string)",
    BATCH,
    BATCH,
    (
        *_QUERY_COMMON,
        "alignGroup()",
        "groupBy(string|star|time...)",
        "groupByMeasurement()",
        "fill(string|int|float)",
    ),
    counters=("batches_queried", "points_queried"),
    impl=_E + "basic:SourceNode",
    doc="an InfluxQL query run against InfluxDB on a schedule (period, every/cron, offset, align)",
)
_node(
    "queryFlux",
    "queryFlux(string)",
    BATCH,
    BATCH,
    (*_QUERY_COMMON, "org(string)", "orgID(string)"),
    desc="query_flux",
    go_type="QueryFluxNode",
    counters=("batches_queried", "points_queried"),
    impl=_E + "basic:SourceNode",
    doc="a Flux query run against InfluxDB 2.x on a schedule",
)

# -- transformations -------------------------------------------------------------------------------
_node(
    "where",
    "where(lambda)",
    SAME,
    SAME,
    grouped=True,
    stateful=True,
    impl=_E + "basic:WhereNode",
    doc="keeps the points for which a lambda is true",
)
_node(
    "eval",
    "eval(lambda...)",
    SAME,
    SAME,
    ("as(string...)", "tags(string...)", "keep(string...)"),
    grouped=True,
    stateful=True,
    impl=_E + "basic:EvalNode",
    doc="computes fields (or tags) from lambdas",
)
_node(
    "groupBy",
    "groupBy(string|star|lambda...)",
    SAME,
    SAME,
    ("exclude(string...)", "byMeasurement()"),
    desc="groupby",
    impl=_E + "basic:GroupByNode",
    doc="regroups points by tags (or * / the measurement)",
)
_node(
    "window",
    "window()",
    STREAM,
    BATCH,
    (
        "period(duration)",
        "every(duration)",
        "align()",
        "fillPeriod()",
        "periodCount(int)",
        "everyCount(int)",
    ),
    grouped=True,
    stateful=True,
    buffers=True,
    impl=_E + "window:WindowNode",
    doc="buffers a stream into time windows emitted as batches (period, every, align, fillPeriod)",
)
_node(
    "log",
    "log()",
    SAME,
    SAME,
    ("level(string)", "prefix(string)"),
    {"level": "INFO", "prefix": ""},
    impl=_E + "basic:LogNode",
    doc="logs every point or batch that passes, in Kapacitor's logfmt",
)
_node(
    "influxDBOut",
    "influxDBOut()",
    SAME,
    NONE,
    (
        "cluster(string)",
        "database(string)",
        "retentionPolicy(string)",
        "measurement(string)",
        "writeConsistency(string)",
        "precision(string)",
        "buffer(int)",
        "flushInterval(duration)",
        "+tag(string, string)",
        "create()",
    ),
    {"buffer": 1000, "flushInterval": Duration(10_000_000_000, "10s")},
    desc="influxdb_out",
    go_type="InfluxDBOutNode",
    chains=False,
    counters=("points_written", "write_errors"),
    buffers=True,
    impl=_E + "outputs:InfluxDBOutNode",
    doc="writes points to InfluxDB (buffered, with retries)",
)
_node(
    "httpOut",
    "httpOut(string)",
    SAME,
    SAME,
    ("endpoint(string)",),
    desc="http_out",
    go_type="HTTPOutNode",
    grouped=True,
    impl=_E + "outputs:HttpOutNode",
    doc="keeps the latest result per group, served at /kapacitor/v1/tasks/ID/NAME",
)
_node(
    "httpPost",
    "httpPost(string...)",
    SAME,
    SAME,
    (
        "+endpoint(string)",
        "+header(string, string)",
        "captureResponse()",
        "codeField(string)",
        "timeout(duration)",
    ),
    desc="http_post",
    go_type="HTTPPostNode",
    grouped=True,
    impl=_E + "httppost:HttpPostNode",
    doc="POSTs every point or batch to a URL or an [[httppost]] endpoint",
)
_node(
    "derivative",
    "derivative(string)",
    SAME,
    SAME,
    ("unit(duration)", "nonNegative()", "as(string)"),
    # `as` defaults to the derivative's own field (Kapacitor writes over it), so it has no fixed default.
    {"unit": Duration(1_000_000_000, "1s")},
    grouped=True,
    stateful=True,
    impl=_E + "stateful:DerivativeNode",
    doc="the rate of change of a field between consecutive points",
)
_node(
    "join",
    "join(node...)",
    SAME,
    SAME,
    (
        "as(string...)",
        "on(string...)",
        "delimiter(string)",
        "tolerance(duration)",
        "fill(string|int|float)",
        "streamName(string)",
        "deleteAll(bool?)",
    ),
    {"delimiter": "."},
    grouped=True,
    stateful=True,
    buffers=True,
    impl=_E + "join:JoinNode",
    doc="joins streams or batches on time (tolerance) and groups, fields prefixed",
)
_node(
    "union",
    "union(node...)",
    SAME,
    SAME,
    ("rename(string)",),
    impl=_E + "join:UnionNode",
    doc="merges several parents into one edge",
)
_node(
    "shift",
    "shift(duration)",
    SAME,
    SAME,
    impl=_E + "basic:ShiftNode",
    doc="shifts point times by a duration",
)
_node(
    "sample",
    "sample(int|duration)",
    SAME,
    SAME,
    grouped=True,
    stateful=True,
    impl=_E + "basic:SampleNode",
    doc="keeps every Nth point, or one point per duration",
)
_node(
    "stateDuration",
    "stateDuration(lambda)",
    SAME,
    SAME,
    ("as(string)", "unit(duration)"),
    {"as": "state_duration", "unit": Duration(1_000_000_000, "1s")},
    desc="state_duration",
    grouped=True,
    stateful=True,
    impl=_E + "stateful:StateDurationNode",
    doc="how long a lambda has been true, in a field",
)
_node(
    "stateCount",
    "stateCount(lambda)",
    SAME,
    SAME,
    ("as(string)",),
    {"as": "state_count"},
    desc="state_count",
    grouped=True,
    stateful=True,
    impl=_E + "stateful:StateCountNode",
    doc="how many consecutive points a lambda has been true, in a field",
)
_node(
    "changeDetect",
    "changeDetect(string...)",
    SAME,
    SAME,
    grouped=True,
    stateful=True,
    impl=_E + "stateful:ChangeDetectNode",
    doc="emits a point only when one of the fields changed",
)
_node(
    "default",
    "default()",
    SAME,
    SAME,
    ("+field(string, any)", "+tag(string, string)"),
    counters=("fields_defaulted", "tags_defaulted"),
    impl=_E + "basic:DefaultNode",
    doc="sets fields and tags that are missing",
)
_node(
    "delete",
    "delete()",
    SAME,
    SAME,
    ("+field(string)", "+tag(string)"),
    counters=("fields_deleted", "tags_deleted"),
    impl=_E + "basic:DeleteNode",
    doc="removes fields and tags",
)
_node(
    "barrier",
    "barrier()",
    SAME,
    SAME,
    ("idle(duration)", "period(duration)", "delete(bool?)"),
    grouped=True,
    stateful=True,
    impl=_E + "stateful:BarrierNode",
    doc="emits barriers on idle time or a period (and can delete idle groups)",
)
_node(
    "kapacitorLoopback",
    "kapacitorLoopback()",
    SAME,
    NONE,
    ("database(string)", "retentionPolicy(string)", "measurement(string)", "+tag(string, string)"),
    desc="kapacitor_loopback",
    chains=False,
    counters=("points_written",),
    impl=_E + "loopback:KapacitorLoopbackNode",
    doc="writes points back into kapfast's own stream (another database/RP)",
)
_node(
    "combine",
    "combine(lambda...)",
    SAME,
    STREAM,
    ("as(string...)", "delimiter(string)", "tolerance(duration)", "max(int)"),
    {"delimiter": ".", "max": 1_000_000},
    grouped=True,
    stateful=True,
    buffers=True,
    impl=_E + "join:CombineNode",
    doc="combines points of one stream pairwise by lambdas",
)
_node(
    "flatten",
    "flatten()",
    SAME,
    SAME,
    ("on(string...)", "delimiter(string)", "tolerance(duration)", "dropOriginalFieldName(bool?)"),
    {"delimiter": "."},
    grouped=True,
    stateful=True,
    buffers=True,
    impl=_E + "join:FlattenNode",
    doc="flattens points at the same time into one point, fields prefixed by tags",
)
_node(
    "sideload",
    "sideload()",
    SAME,
    SAME,
    (
        "source(string)",
        "httpUser(string)",
        "httpPassword(string)",
        "order(string...)",
        "+field(string, any)",
        "+tag(string, string)",
    ),
    impl=_E + "sideload:SideloadNode",
    doc="adds fields and tags read from files (YAML/JSON), by hierarchy of tag values",
)
_node(
    "trickle",
    "trickle()",
    BATCH,
    STREAM,
    impl=_E + "stateful:TrickleNode",
    doc="turns batches back into a stream of points",
)
_AUTOSCALE_COMMON = (
    "cluster(string)",
    "currentField(string)",
    "max(int)",
    "min(int)",
    "replicas(lambda)",
    "increaseCooldown(duration)",
    "decreaseCooldown(duration)",
)
_node(
    "k8sAutoscale",
    "k8sAutoscale()",
    SAME,
    STREAM,
    (
        *_AUTOSCALE_COMMON,
        "namespace(string)",
        "kind(string)",
        "resourceName(string)",
        "resourceNameTag(string)",
        "namespaceTag(string)",
        "kindTag(string)",
        "resourceTag(string)",
    ),
    {
        "kind": "deployments",
        "min": 1,
        "namespaceTag": "namespace",
        "kindTag": "kind",
        "resourceTag": "resource",
    },
    desc="k8s_autoscale",
    go_type="K8sAutoscaleNode",
    grouped=True,
    counters=_AUTOSCALE_COUNTERS,
    stateful=True,
    impl=_E + "autoscale:K8sAutoscaleNode",
    doc="scales a Kubernetes resource to a computed number of replicas",
)
_node(
    "swarmAutoscale",
    "swarmAutoscale()",
    SAME,
    STREAM,
    (*_AUTOSCALE_COMMON, "serviceName(string)", "serviceNameTag(string)", "outputServiceNameTag(string)"),
    {"min": 1},
    desc="swarm_autoscale",
    grouped=True,
    counters=_AUTOSCALE_COUNTERS,
    stateful=True,
    impl=_E + "autoscale:SwarmAutoscaleNode",
    doc="scales a Docker Swarm service to a computed number of replicas",
)
_node(
    "ec2Autoscale",
    "ec2Autoscale()",
    SAME,
    STREAM,
    (*_AUTOSCALE_COMMON, "groupName(string)", "groupNameTag(string)", "outputGroupNameTag(string)"),
    {"min": 1},
    desc="ec2_autoscale",
    go_type="Ec2AutoscaleNode",
    grouped=True,
    counters=_AUTOSCALE_COUNTERS,
    stateful=True,
    impl=_E + "autoscale:Ec2AutoscaleNode",
    doc="scales an AWS autoscaling group to a computed capacity",
)

# -- InfluxQL functions (one InfluxQLNode each) ----------------------------------------------------
INFLUXQL_FUNCTIONS: dict[str, tuple[str, str]] = {
    # name: (chain signature, provides)
    "count": ("count(string)", STREAM),
    "sum": ("sum(string)", STREAM),
    "mean": ("mean(string)", STREAM),
    "min": ("min(string)", STREAM),
    "max": ("max(string)", STREAM),
    "first": ("first(string)", STREAM),
    "last": ("last(string)", STREAM),
    "median": ("median(string)", STREAM),
    "mode": ("mode(string)", STREAM),
    "spread": ("spread(string)", STREAM),
    "stddev": ("stddev(string)", STREAM),
    "percentile": ("percentile(string, float)", STREAM),
    "distinct": ("distinct(string)", BATCH),
    "top": ("top(int, string, string...)", BATCH),
    "bottom": ("bottom(int, string, string...)", BATCH),
    "elapsed": ("elapsed(string, duration)", SAME),
    "difference": ("difference(string)", SAME),
    "movingAverage": ("movingAverage(string, int)", SAME),
    "cumulativeSum": ("cumulativeSum(string)", SAME),
    "holtWinters": ("holtWinters(string, int, int, duration)", BATCH),
    "holtWintersWithFit": ("holtWintersWithFit(string, int, int, duration)", BATCH),
}
_EMITS = {BATCH: "emits a batch", STREAM: "one point per batch", SAME: "same edge as its parent"}
for _name, (_create, _provides) in INFLUXQL_FUNCTIONS.items():
    _NODES[_name] = NodeSpec(
        kind=_name,
        desc=_name,
        go_type="InfluxQLNode",
        wants=SAME,
        provides=_provides,
        create=_sig(_create),
        properties=_INFLUXQL_PROPS,
        defaults=MappingProxyType({"as": _name}),
        impl=_E + "influxql:InfluxQLNode",
        grouped=True,
        # a stream reducer's points of the open time; a transformation's running state
        stateful=True,
        doc=f"InfluxQL function {_name}() over each batch ({_EMITS[_provides]})",
    )

# -- alert and its handlers ------------------------------------------------------------------------
# The inline handlers (``.pagerDuty2()``...) are the rows of kapfast.handler_table that have an
# inline method; a row without an implementation is refused by the compiler.
ALERT_HANDLERS: Mapping[str, HandlerSpec] = MappingProxyType(
    {
        name: HandlerSpec(
            name, _sig(row.inline or ""), _props(*row.properties), MappingProxyType(dict(row.defaults))
        )
        for name, row in INLINE.items()
    }
)

DEFAULT_ALERT_ID = "{{ .Name }}:{{ .Group }}"
DEFAULT_ALERT_MESSAGE = "{{ .ID }} is {{ .Level }}"
DEFAULT_ALERT_DETAILS = "{{ json . }}"

_node(
    "alert",
    "alert()",
    SAME,
    SAME,
    (
        "id(string)",
        "message(string)",
        "details(string)",
        "info(lambda)",
        "warn(lambda)",
        "crit(lambda)",
        "infoReset(lambda)",
        "warnReset(lambda)",
        "critReset(lambda)",
        "history(int)",
        "flapping(float, float)",
        "stateChangesOnly(duration?)",
        "noRecoveries()",
        "all()",
        "topic(string)",
        "category(string)",
        "+inhibit(string, string...)",
        "levelTag(string)",
        "levelField(string)",
        "messageField(string)",
        "idTag(string)",
        "idField(string)",
        "durationField(string)",
        "snoozeDuration(duration)",
    ),
    {
        "id": DEFAULT_ALERT_ID,
        "message": DEFAULT_ALERT_MESSAGE,
        "details": DEFAULT_ALERT_DETAILS,
        "history": 21,
    },
    handlers=ALERT_HANDLERS,
    grouped=True,
    counters=(
        "alerts_triggered",
        "oks_triggered",
        "infos_triggered",
        "warns_triggered",
        "crits_triggered",
        "alerts_inhibited",
    ),
    stateful=True,
    impl="kapfast.engine.alert.node:AlertNode",
    doc="evaluates levels per group and sends events to handlers and topics",
)


NODES: Mapping[str, NodeSpec] = MappingProxyType(_NODES)

# Chain methods every "chainnode" has (pipeline/node.go), plus the InfluxQL functions.
COMMON_CHAINS: tuple[str, ...] = (
    "where",
    "httpOut",
    "httpPost",
    "influxDBOut",
    "kapacitorLoopback",
    "alert",
    "union",
    "join",
    "combine",
    "flatten",
    "eval",
    "groupBy",
    "window",
    "barrier",
    "sample",
    "derivative",
    "changeDetect",
    "shift",
    "log",
    "default",
    "delete",
    "k8sAutoscale",
    "swarmAutoscale",
    "ec2Autoscale",
    "stateDuration",
    "stateCount",
    "sideload",
    "trickle",
    *INFLUXQL_FUNCTIONS,
)
# Chain methods of every node, chainnode or not.
EVERY_NODE_CHAINS: tuple[str, ...] = ("stats", "deadman")

DEADMAN = Method("deadman", ("float", "duration"), "lambda")

# Deadman alert id/message, as Kapacitor's [deadman] configuration defaults them. NODE_NAME and
# INTERVAL are replaced by the watched node's name and the interval.
DEADMAN_ID = "{{ .Group }}:NODE_NAME"
DEADMAN_MESSAGE = (
    '{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: '
    '{{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL.'
)


@dataclass(frozen=True)
class DeadmanDefaults:
    """kapacitord's ``[deadman]`` section: the id/message of every ``.deadman()`` alert and, with
    ``global_``, a deadman of ``threshold`` points per ``interval_ns`` on every task's source."""

    global_: bool = False
    threshold: float = 0.0
    interval_ns: int = 10_000_000_000
    id: str = DEADMAN_ID
    message: str = DEADMAN_MESSAGE


def chain_methods(spec: NodeSpec) -> tuple[str, ...]:
    """Names of the chain methods allowed on a node of this kind."""
    if spec.only_chains:
        return (*spec.only_chains, *EVERY_NODE_CHAINS)
    if spec.chains:
        return (*COMMON_CHAINS, *EVERY_NODE_CHAINS)
    return EVERY_NODE_CHAINS


def chain_method(name: str) -> Method | None:
    """Signature of a chain method (the node it creates), ``None`` when there is no such method."""
    if name == "deadman":
        return DEADMAN
    spec = NODES.get(name)
    if spec is None or spec.internal or name in ("stream", "batch"):
        return None
    return spec.create


def describe() -> dict[str, Any]:
    """The whole registry as plain data (for docs, the engine, and `kapfast` tooling)."""

    def m(method: Method) -> dict[str, Any]:
        return {
            "args": list(method.args),
            "variadic": method.variadic,
            "optional": method.optional,
            "repeat": method.repeat,
        }

    return {
        kind: {
            "desc": spec.desc,
            "wants": spec.wants,
            "provides": spec.provides,
            "create": m(spec.create),
            "properties": {n: m(p) for n, p in spec.properties.items()},
            "defaults": {k: value_to_json(v) for k, v in spec.defaults.items()},
            "chains": list(chain_methods(spec)),
            "handlers": {
                k: {
                    "create": m(h.create),
                    "properties": {n: m(p) for n, p in h.properties.items()},
                    "defaults": {k: value_to_json(v) for k, v in h.defaults.items()},
                }
                for k, h in spec.handlers.items()
            },
        }
        for kind, spec in NODES.items()
    }
