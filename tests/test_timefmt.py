from __future__ import annotations

import pytest

from kapfast.timefmt import GO_ZERO_TIME, api_time, format_rfc3339_ns, parse_api_time, parse_rfc3339_ns


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (10_000_000_000, "1970-01-01T00:00:10Z"),
        (31536000_500_000_000, "1971-01-01T00:00:00.5Z"),
        (1_700_000_000_000_000_001, "2023-11-14T22:13:20.000000001Z"),
        (-1_000_000_000, "1969-12-31T23:59:59Z"),
    ],
)
def test_round_trip(ns: int, text: str) -> None:
    assert format_rfc3339_ns(ns) == text
    assert parse_rfc3339_ns(text) == ns


def test_api_times_show_never_as_go_zero_time() -> None:
    assert api_time(0) == GO_ZERO_TIME
    assert parse_api_time(GO_ZERO_TIME) == 0
    assert api_time(10_000_000_000) == "1970-01-01T00:00:10Z"
    assert parse_api_time("1970-01-01T00:00:10Z") == 10_000_000_000


def test_offsets_and_errors() -> None:
    assert parse_rfc3339_ns("1970-01-01T02:00:00+01:00") == 3_600_000_000_000
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_rfc3339_ns("yesterday")
