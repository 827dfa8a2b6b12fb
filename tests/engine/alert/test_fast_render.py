"""The alert node's default templates rendered without the template engine (#13) give the
template engine's bytes, whatever the data; and Go's JSON float form from repr's fast path."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kapfast.clock import VirtualClock
from kapfast.engine.alert.events import EventRenderer
from kapfast.engine.context import TaskContext
from kapfast.gofmt import json_float, json_float_strconv
from kapfast.tick import compile_script

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "a<b>&'\"+", "\x00\n\t", "é€😀", "\u2028\u2029"]
)
_field_value = (
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**63), 2**63 - 1) | st.booleans() | _text
)


def _renderers(props: str = "") -> tuple[EventRenderer, EventRenderer]:
    """(the node's renderer, the same node's renderer with the template engine only)."""
    script = f"stream\n    |from().measurement('m')\n    |alert().crit(lambda: TRUE){props}\n"
    spec = next(n for n in compile_script(script).nodes if n.kind == "alert")
    ctx = TaskContext(
        task_id="t<1>", clock=VirtualClock(0), hostname="h&st", cluster_id="c'1", server_id='s"1'
    )
    fast, slow = EventRenderer(spec, ctx), EventRenderer(spec, ctx)
    slow.fast_id = slow.fast_message = slow.fast_details = False
    return fast, slow


def test_defaults_take_the_fast_path() -> None:
    fast, _ = _renderers()
    assert fast.fast_id and fast.fast_message and fast.fast_details
    custom, _ = _renderers(".id('{{ .TaskName }}').message('{{ .Level }}').details('x')")
    assert not (custom.fast_id or custom.fast_message or custom.fast_details)


_FAST, _SLOW = _renderers()


@settings(max_examples=150, deadline=None)
@given(
    name=_text,
    group=_text,
    tags=st.dictionaries(_text, _text, max_size=4),
    fields=st.dictionaries(_text, _field_value, max_size=4),
    level=st.sampled_from(["OK", "INFO", "WARNING", "CRITICAL"]),
    time_ns=st.integers(-(2**62), 2**62),
    duration_ns=st.integers(0, 2**62),
)
def test_default_templates_render_as_the_engine_does(
    name: str,
    group: str,
    tags: dict[str, str],
    fields: dict[str, Any],
    level: str,
    time_ns: int,
    duration_ns: int,
) -> None:
    event_id = _FAST.render_id(name, group, tags)
    assert event_id == _SLOW.render_id(name, group, tags)
    for _ in range(2):  # the second time from the cached prefix
        args = (event_id, name, group, tags, fields, level, time_ns, duration_ns)
        assert _FAST.render_message_details(*args) == _SLOW.render_message_details(*args)
    assert _FAST.render_message_details(*args, details=False) == _SLOW.render_message_details(
        *args, details=False
    )


@settings(max_examples=300, deadline=None)
@given(f=st.floats(allow_nan=False, allow_infinity=False))
def test_json_float_fast_path(f: float) -> None:
    assert json_float(f) == json_float_strconv(f)


def test_json_float_edges() -> None:
    for f in (0.0, -0.0, 1.0, 10.0, 0.5, 1e-4, 9.999e-5, 1e15, 1e16, 123456789012345.6, 1e20, 1e21, 5e-324):
        assert json_float(f) == json_float_strconv(f), f
