"""GroupState: history, flapping weights, state-change expiry, duration (Kapacitor's alertState)."""

from __future__ import annotations

import pytest

from kapfast.engine.alert.state import CRITICAL, OK, WARNING, GroupState, StateRules


def _expected_percent(ring: list[int]) -> float:
    """Kapacitor's weighting written out over the ring listed oldest first.

    Its loop starts at the newest entry: the newest transition weighs least (0.8), then it wraps
    and compares the oldest entry with the newest, then walks forward; the weights rise by
    0.4/(n-1) per step and the transition into the newest-but-one entry is never counted.
    """
    n = len(ring)
    step = (1.2 - 1.2 / 1.5) / (n - 1)
    pairs = [(ring[n - 1], ring[n - 2])] + [(ring[k - 1], ring[(k - 2) % n]) for k in range(1, n - 1)]
    total = sum((1.2 / 1.5 + k * step) for k, (a, b) in enumerate(pairs) if a != b)
    return total / (n - 1)


def test_history_ring_and_changed() -> None:
    s = GroupState(StateRules(history=3))
    assert s.level == OK
    s.add_event(CRITICAL)
    assert s.changed and s.level == CRITICAL
    s.add_event(CRITICAL)
    assert not s.changed
    s.add_event(OK)
    s.add_event(WARNING)  # wraps
    assert s.changed and s.level == WARNING and s.previous_level() == OK


def test_percent_change_matches_weighted_formula() -> None:
    s = GroupState(StateRules(history=5, flapping=(0.25, 0.5)))  # the ring is kept for flapping
    seq = [CRITICAL, OK, CRITICAL, CRITICAL, OK, WARNING, OK]
    ring = [OK] * 5
    for lvl in seq:
        s.add_event(lvl)
        ring = [*ring[1:], lvl]
        assert s.percent_change() == pytest.approx(_expected_percent(ring))


def test_no_changes_is_zero_percent() -> None:
    s = GroupState(StateRules(history=21))
    for _ in range(30):
        s.add_event(CRITICAL)
    assert s.percent_change() == 0.0


def test_flapping_hysteresis() -> None:
    s = GroupState(StateRules(history=4, flapping=(0.25, 0.5)))
    # alternate: every transition changes → p = 1 > 0.5
    for i, lvl in enumerate([CRITICAL, OK, CRITICAL, OK]):
        s.update(i, lvl)
    assert s.flapping
    assert not s.should_trigger(CRITICAL)
    assert not s.should_trigger(OK)  # stream recoveries wait too
    # steady levels bring p under the low threshold
    for i in range(4, 12):
        s.update(i, CRITICAL)
        if s.percent_change() < 0.25:
            assert not s.flapping
            break
    else:
        pytest.fail("never stopped flapping")


def test_flapping_stays_between_thresholds() -> None:
    s = GroupState(StateRules(history=5, flapping=(0.1, 0.9)))
    for i, lvl in enumerate([CRITICAL, OK, CRITICAL, OK]):
        s.update(i, lvl)
    p = s.percent_change()
    assert 0.1 < p < 0.9 and not s.flapping  # never rose above high


def test_batch_recovery_sent_while_flapping() -> None:
    s = GroupState(StateRules(history=4, flapping=(0.25, 0.5)))
    for i, lvl in enumerate([CRITICAL, OK, CRITICAL, OK]):
        s.update(i, lvl)
    assert s.flapping and s.changed
    assert s.should_trigger(OK, batch=True)
    assert not s.should_trigger(OK, batch=False)


def test_state_changes_only_without_interval() -> None:
    s = GroupState(StateRules(state_changes_only=True))
    s.update(0, CRITICAL)
    assert s.should_trigger(CRITICAL)
    s.triggered(0)
    s.update(10, CRITICAL)
    assert not s.should_trigger(CRITICAL)
    s.update(20, WARNING)
    assert s.should_trigger(WARNING)


def test_state_changes_only_with_max_interval() -> None:
    s = GroupState(StateRules(state_changes_only=True, max_interval_ns=2))
    s.update(0, CRITICAL)
    assert s.should_trigger(CRITICAL)
    s.triggered(0)
    s.update(1, CRITICAL)
    assert not s.expired and not s.should_trigger(CRITICAL)
    s.update(2, CRITICAL)  # t - lastTriggered >= 2
    assert s.expired and s.should_trigger(CRITICAL)
    s.triggered(2)
    s.update(3, CRITICAL)
    assert not s.should_trigger(CRITICAL)


def test_ok_only_on_change() -> None:
    s = GroupState(StateRules())
    s.update(0, OK)
    assert not s.should_trigger(OK)
    s.update(1, CRITICAL)
    assert s.should_trigger(CRITICAL)
    s.update(2, CRITICAL)
    assert s.should_trigger(CRITICAL)  # non-OK fires every time
    s.update(3, OK)
    assert s.should_trigger(OK)


def test_duration_from_first_trigger_since_ok() -> None:
    s = GroupState(StateRules())
    for t, lvl in [(10, WARNING), (20, CRITICAL), (35, CRITICAL)]:
        s.update(t, lvl)
        s.triggered(t)
    assert s.duration() == 25
    s.update(40, OK)
    s.triggered(40)
    assert s.duration() == 30  # the recovery carries the whole alert's duration
    s.update(50, CRITICAL)
    s.triggered(50)
    assert s.duration() == 0


def test_restore_continues_alert() -> None:
    s = GroupState(StateRules(state_changes_only=True))
    s.restore(CRITICAL, 100, 40)
    assert s.level == CRITICAL
    s.update(200, CRITICAL)
    assert not s.should_trigger(CRITICAL)
    s.update(210, OK)
    assert s.should_trigger(OK)
    s.triggered(210)
    assert s.duration() == 150  # since 60, when the alert began before the restart
