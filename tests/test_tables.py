"""The node and handler tables against Kapacitor's inventory: every node kind and alert handler
Kapacitor has is a row, and every row is in one of two states — kapfast runs it, or refuses it at
compile time naming it. No third state (accepted, then failing or dropping at run time).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kapfast import reference
from kapfast.engine.alert.handlers.base import AlertHandler, HandlerImpl
from kapfast.engine.alert.services import AlertServices, HandlerSpec, HandlerSpecError
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.factory import node_class
from kapfast.engine.node import Node
from kapfast.errors import TaskError, TickScriptError
from kapfast.handler_table import HANDLERS, INLINE, SECTIONS, kebab
from kapfast.testing import TaskHarness
from kapfast.tick import compile_script
from kapfast.tick.registry import INFLUXQL_FUNCTIONS, NODES

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT.parent / "shared" / "spec" / "kapacitor_inventory.md"


def _inventory_section(title: str, end: str) -> str:
    text = INVENTORY.read_text(encoding="utf-8")
    start = text.index(title)
    return text[start : text.index(end, start + len(title))]


@pytest.mark.skipif(not INVENTORY.exists(), reason="../shared is not beside the checkout")
def test_every_node_kind_of_the_inventory_is_a_row() -> None:
    catalogue = _inventory_section("### 2.2 Node catalogue", "### 2.3")
    kinds = set(re.findall(r"^\| `@?([a-zA-Z0-9]+)", catalogue, re.M)) - {"udf"}
    kinds |= set(re.findall(r"\|([a-zA-Z0-9]+)\(", catalogue)) & set(NODES)  # `batch|query(q)` forms
    missing = sorted(k for k in kinds if k not in NODES)
    assert not missing, f"node kinds of Kapacitor missing from the node table: {missing}"
    assert len(kinds) >= 30


@pytest.mark.skipif(not INVENTORY.exists(), reason="../shared is not beside the checkout")
def test_every_inline_handler_of_the_inventory_is_a_row() -> None:
    section = _inventory_section("### 3.5 Inline handler property methods", "### 3.6")
    handler_names = {
        line.split("|")[2] for line in section.splitlines() if line.startswith("| ") and "`." in line
    }
    created = {m for cell in handler_names for m in re.findall(r"`\.([a-zA-Z0-9]+)\(", cell)}
    missing = sorted(created - set(INLINE))
    assert not missing, f"inline handlers of Kapacitor missing from the handler table: {missing}"
    assert len(created) >= 24


def _chain_script(kind: str) -> str:
    spec = NODES[kind]
    args = []
    for t in spec.create.args:
        args.append(
            {"string": "'x'", "int": "1", "float": "1.0", "duration": "1s", "lambda": 'lambda: "x" > 0'}.get(
                t.split("|")[0], "'x'"
            )
        )
    call = f"{kind}({', '.join(args)})"
    if spec.wants == "batch" or kind == "queryFlux":
        return f"batch|{call}" if kind in ("query", "queryFlux") else f"batch|query('SELECT x FROM y')|{call}"
    return f"stream|from()|{call}"


NODE_KINDS = [k for k, s in NODES.items() if not s.internal and k not in ("stream", "batch")]


@pytest.mark.parametrize("kind", NODE_KINDS)
def test_a_node_kind_runs_or_is_refused_at_compile(kind: str) -> None:
    spec = NODES[kind]
    if spec.impl is not None:
        cls = node_class(kind)
        assert cls is not None and issubclass(cls, Node)
        return
    with pytest.raises(TickScriptError, match=re.escape(f"|{kind}() is not supported by kapfast")):
        compile_script(_chain_script(kind))


# The kinds whose bare chain (``_chain_script``) is not a valid script: the least each needs.
RUN_SCRIPTS = {
    "from": "stream|from().measurement('y')",
    "eval": "stream|from()|eval(lambda: \"x\" * 2.0).as('x2')",
    "httpPost": "stream|from()|httpPost('http://127.0.0.1:1/')",  # refused connections: counted
    "join": "var a = stream|from().measurement('y')\nvar b = stream|from().measurement('z')\n"
    "a|join(b).as('a', 'b')",
    "kapacitorLoopback": "stream|from()|kapacitorLoopback().database('d').retentionPolicy('r')",
    "sideload": "stream|from()|sideload().source('file://{tmp}').order('a.yml').field('f', 1.0)",
    "k8sAutoscale": "stream|from()|k8sAutoscale().resourceName('r').replicas(lambda: 2)",
    "swarmAutoscale": "stream|from()|swarmAutoscale().serviceName('s').replicas(lambda: 2)",
    "ec2Autoscale": "stream|from()|ec2Autoscale().groupName('g').replicas(lambda: 2)",
    "query": "batch|query('SELECT x FROM db.rp.y').period(10s).every(10s)",
    "queryFlux": "batch|queryFlux('from(bucket: \"b\")').period(10s).every(10s)",
    "trickle": "batch|query('SELECT x FROM db.rp.y').period(10s).every(10s)|trickle()",
}
# Kapacitor's own refusal at start without the section that names the cluster to scale.
NEEDS_CLUSTER = {"k8sAutoscale": "kubernetes", "swarmAutoscale": "swarm", "ec2Autoscale": "ec2"}


@pytest.mark.parametrize("kind", [k for k in NODE_KINDS if NODES[k].impl is not None])
def test_a_supported_node_kind_runs_under_kapfast_test(kind: str, tmp_path: Path) -> None:
    """What ``kapfast check`` accepts runs: each kind in a task on the ``kapfast test`` engine
    (TaskHarness), fed points and a minute of clock."""
    script = RUN_SCRIPTS.get(kind, _chain_script(kind)).replace("{tmp}", str(tmp_path))
    compile_script(script)  # what kapfast check does
    if kind in NEEDS_CLUSTER:
        with pytest.raises(TaskError, match=f"no {NEEDS_CLUSTER[kind]} cluster is configured"):
            TaskHarness(script, dbrp="db.rp")
        return
    with TaskHarness(script, dbrp="db.rp") as t:
        if t.pipeline.task_type == "batch":
            t.write_batch("y", [(0, {"x": 1.0}), ("10s", {"x": 2.0})], tags={"host": "a"})
        else:
            t.write("y,host=a x=1 0\ny,host=a x=2 10s")
        t.advance("1m")
        assert t.stats(), kind


def test_influxql_functions_share_one_implementation() -> None:
    assert {node_class(f) for f in INFLUXQL_FUNCTIONS} == {node_class("mean")}


@pytest.mark.parametrize("kind", list(HANDLERS))
def test_a_handler_is_delivered_or_refused_where_it_is_used(kind: str) -> None:
    row = HANDLERS[kind]
    topic = HandlerSpec("h", "t", kind, {})
    if row.supported:
        impl = row.implementation()
        assert isinstance(impl, HandlerImpl)
        if row.section:
            # its section parses (defaults), shows in the config API and makes its service
            assert row.config is not None and row.section in SECTIONS
            assert impl.service is not None
            assert AlertServices().service(kind) is not None or row.array
        return
    if row.inline_name:
        with pytest.raises(
            TickScriptError, match=re.escape(f".{row.inline_name}() is not supported by kapfast")
        ):
            compile_script(f"stream|from()|alert().crit(lambda: TRUE).{row.inline_name}()")
    with pytest.raises(HandlerSpecError, match=f"kind '{kind}' is not supported by kapfast"):
        AlertServices().build_entry(topic, TopicRegistry())


def test_inline_properties_become_the_topic_options() -> None:
    # the one build path: inline property names map onto the topic handler's options
    assert kebab("routingKey") == "routing-key"
    assert kebab("uRLTitle") == "url-title"
    assert kebab("channelURL") == "channel-url"
    assert INLINE["opsGenie2"].option_name("teams") == "teams-list"
    h = AlertServices().build_inline(
        compile_script("stream|from()|alert().crit(lambda: TRUE).log('/tmp/x.log').mode(0644)")
        .nodes[-1]
        .handlers[0]
    )
    assert isinstance(h, AlertHandler) and getattr(h, "mode", None) == 0o644


def test_reference_pages_are_current() -> None:
    assert reference.main(["--check", str(ROOT)]) == 0, "run `python -m kapfast.reference`"
