from __future__ import annotations

import pytest

from kapfast.timefmt import ZERO_TIME, parse_rfc3339, rfc3339nano


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, ZERO_TIME),
        (10_000_000_000, "1970-01-01T00:00:10Z"),
        (31536000_500_000_000, "1971-01-01T00:00:00.5Z"),
        (1_700_000_000_000_000_001, "2023-11-14T22:13:20.000000001Z"),
        (-1_000_000_000, "1969-12-31T23:59:59Z"),
    ],
)
def test_round_trip(ns: int, text: str) -> None:
    assert rfc3339nano(ns) == text
    assert parse_rfc3339(text) == ns


def test_offsets_and_errors() -> None:
    assert parse_rfc3339("1970-01-01T01:00:00+01:00") == 0
    assert parse_rfc3339("1970-01-01T02:00:00+01:00") == 3_600_000_000_000
    with pytest.raises(ValueError, match="invalid RFC3339"):
        parse_rfc3339("yesterday")
