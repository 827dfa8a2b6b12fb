"""Topic handler match expressions: compiled once, evaluated per event."""

from __future__ import annotations

import pytest

from kapfast.engine.alert.match import MatchError, MatchEvent, compile_match

CRIT = MatchEvent(
    level="CRITICAL",
    previous_level="OK",
    name="cpu",
    task_name="t1",
    duration_ns=90 * 10**9,
    tags={"host": "web01", "dc": "eu"},
)
SAME = MatchEvent(
    level="CRITICAL", previous_level="CRITICAL", name="cpu", task_name="t1", tags={"host": "db1"}
)
OK = MatchEvent(level="OK", previous_level="WARNING", name="mem", task_name="t2")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", [True, True, True]),
        ("changed() == TRUE AND level() >= WARNING", [True, False, False]),
        ("changed()", [True, False, True]),
        ("level() == OK", [False, False, True]),
        ("level() > INFO OR name() == 'mem'", [True, True, True]),
        ("name() =~ /^c/", [True, True, False]),
        ("taskName() != 't1'", [False, False, True]),
        ("alertDuration() >= 1m", [True, False, False]),
        ("duration() < 1m", [False, True, True]),
        ("!changed()", [False, True, False]),
        ("level() - 1 == WARNING", [True, True, False]),
    ],
)
def test_expressions(text: str, want: list[bool]) -> None:
    m = compile_match(text)
    assert [m.matches(e) for e in (CRIT, SAME, OK)] == want


def test_tag_references() -> None:
    m = compile_match('"host" == \'web01\' AND "dc" =~ /e./')
    assert m.matches(CRIT) is True
    assert m.matches(SAME) is False
    with pytest.raises(MatchError, match="no tag exists for host"):
        m.matches(OK)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level() >= LOUD", 'unknown identifier "LOUD"'),
        ("count() > 1", r"unknown function count\(\)"),
        ("level(1) > 1", "takes no arguments"),
        ("level() >=", "invalid match expression"),
        ("name() =~ 'x'", "needs a regular expression"),
    ],
)
def test_bad_expressions_are_refused_when_compiled(text: str, message: str) -> None:
    with pytest.raises(MatchError, match=message):
        compile_match(text)


def test_errors_name_line_and_column() -> None:
    with pytest.raises(MatchError, match="line 1 column 12"):
        compile_match("level() >= BAD")


def test_type_errors_at_evaluation() -> None:
    with pytest.raises(MatchError, match="cannot compare"):
        compile_match("name() == 1").matches(CRIT)
    with pytest.raises(MatchError, match="not a boolean"):
        compile_match("level()").matches(CRIT)
