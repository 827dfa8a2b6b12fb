"""Every known-good script compiles (conformance cases, documentation examples) and formats stably."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tick_scripts import CONFORMANCE, conformance_cases, example_scripts

from kapfast.errors import TickScriptError
from kapfast.handler_table import INLINE, unsupported_message
from kapfast.tick import Pipeline, compile_script, format_script
from kapfast.tick.registry import NODES

CASES = conformance_cases()
EXAMPLES = example_scripts()


def _shape(p: Pipeline) -> dict[str, Any]:
    """The pipeline without source positions and lambda texts (formatting may move and respell them)."""
    data = p.to_dict()
    for node in data["nodes"]:
        node.pop("line")
        node.pop("column")
        for h in node["handlers"]:
            h.pop("line")
            h.pop("column")
    return data


def test_conformance_cases_found() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"no conformance cases at {CONFORMANCE}")
    assert len(CASES) >= 100


@pytest.mark.parametrize(("name", "script", "kind"), CASES, ids=[c[0] for c in CASES])
def test_conformance_script_compiles(name: str, script: str, kind: str) -> None:
    pipeline = compile_script(script, source=name)
    assert pipeline.task_type == kind
    assert pipeline.nodes[0].name == f"{kind}0"


@pytest.mark.parametrize(("name", "script", "kind"), CASES, ids=[c[0] for c in CASES])
def test_conformance_script_formats_stably(name: str, script: str, kind: str) -> None:
    once = format_script(script)
    assert format_script(once) == once
    assert _shape(compile_script(once)) == _shape(compile_script(script))


def test_examples_found() -> None:
    assert len(EXAMPLES) >= 25


def _refusals(script: str) -> list[str]:
    """What the node and handler tables refuse in this script (kinds kapfast cannot run)."""
    nodes = [
        f"|{k}() is not supported by kapfast"
        for k, row in NODES.items()
        if row.impl is None and re.search(rf"\|\s*{k}\(", script)
    ]
    handlers = [
        unsupported_message(r)
        for r in INLINE.values()
        if not r.supported and re.search(rf"\.{r.inline_name}\(", script)
    ]
    return nodes + handlers


@pytest.mark.parametrize(("name", "script", "variables"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_compiles_and_formats(name: str, script: str, variables: dict[str, Any] | None) -> None:
    refusals = _refusals(script)
    if refusals:
        # what kapfast cannot run is refused at compile time, naming it
        with pytest.raises(TickScriptError, match="|".join(map(re.escape, refusals))):
            compile_script(script, vars=variables, source=name)
        return
    pipeline = compile_script(script, vars=variables, source=name)
    assert pipeline.task_type in ("stream", "batch")
    once = format_script(script)
    assert format_script(once) == once
    assert _shape(compile_script(once, vars=variables)) == _shape(pipeline)
    # the description survives JSON
    assert Pipeline.from_json(pipeline.to_json()) == pipeline
