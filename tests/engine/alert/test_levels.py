"""LevelTable: Kapacitor's determineLevel over precomputed masks, and its vectorized form."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kapfast.engine.alert.levels import LevelTable
from kapfast.engine.alert.state import CRITICAL, INFO, OK, WARNING


def _reference(match: list[bytes | None], hold: list[bytes | None], i: int, current: int) -> int:
    # determineLevel as Kapacitor writes it: CRITICAL down to the current level, then the reset,
    # then the current level down to INFO
    for lvl in range(CRITICAL, OK, -1):
        if lvl < current:
            break
        col = match[lvl]
        if col is not None and col[i]:
            return lvl
    h = hold[current]
    if h is not None and h[i]:
        return current
    for lvl in range(current, OK, -1):
        col = match[lvl]
        if col is not None and col[i]:
            return lvl
    return OK


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 40),
    data=st.data(),
)
def test_level_matches_reference(n: int, data: st.DataObject) -> None:
    def col() -> bytes | None:
        if data.draw(st.booleans()):
            return None
        return bytes(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))

    match = [None, col(), col(), col()]
    hold = [None, col(), col(), col()]
    table = LevelTable(match, hold)
    for current in (OK, INFO, WARNING, CRITICAL):
        for i in range(n):
            assert table.level(i, current) == _reference(match, hold, i, current)
