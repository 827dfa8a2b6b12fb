"""Methods of time.Time and time.Duration called from templates, and Go's time layouts."""

from __future__ import annotations

from typing import Any

import pytest

from kapfast.gofmt import GoDuration, GoTime, time_format
from kapfast.gotemplate import Template, TemplateError

S = 1_000_000_000
T = 1451483440 * S + 123_456_789  # 2015-12-30T13:50:40.123456789Z, a Wednesday
DATA = {"Time": GoTime(T), "Duration": GoDuration(90 * S), "Neg": GoDuration(-1_500_000_000)}


@pytest.mark.parametrize(
    ("layout", "want"),
    [
        ("2006-01-02T15:04:05Z07:00", "2015-12-30T13:50:40Z"),
        ("2006-01-02T15:04:05.999999999Z07:00", "2015-12-30T13:50:40.123456789Z"),
        ("2006-01-02 15:04:05", "2015-12-30 13:50:40"),
        ("2006-01-02 15:04:05.000", "2015-12-30 13:50:40.123"),
        ("15:04:05.999", "13:50:40.123"),
        ("15:04:05,000000", "13:50:40,123456"),
        ("Mon Jan _2 15:04:05 2006", "Wed Dec 30 13:50:40 2015"),
        ("Mon Jan _2 15:04:05 MST 2006", "Wed Dec 30 13:50:40 UTC 2015"),
        ("02 Jan 06 15:04 -0700", "30 Dec 15 13:50 +0000"),
        ("Monday, 02-Jan-06 15:04:05 MST", "Wednesday, 30-Dec-15 13:50:40 UTC"),
        ("Mon, 02 Jan 2006 15:04:05 -07:00", "Wed, 30 Dec 2015 13:50:40 +00:00"),
        ("3:04PM", "1:50PM"),
        ("3:04pm", "1:50pm"),
        ("03:04 PM", "01:50 PM"),
        ("Jan 2, 2006 at 3:04pm (MST)", "Dec 30, 2015 at 1:50pm (UTC)"),
        ("January", "December"),
        ("1/2/06", "12/30/15"),
        ("002", "364"),
        ("__2", "364"),
        ("Z0700 Z07 -07", "Z Z +00"),
        ("literal text", "literal text"),
        ("Janet", "Janet"),
        ("_2006", "_2015"),
        ("4m 5s", "50m 40s"),
        (".0", ".1"),
        (".99", ".12"),
    ],
)
def test_time_format(layout: str, want: str) -> None:
    assert time_format(T, layout) == want


def test_time_format_trims_zero_fraction() -> None:
    assert time_format(1451483440 * S, "15:04:05.999") == "13:50:40"
    assert time_format(1451483440 * S, "15:04:05.000") == "13:50:40.000"
    assert time_format(1451483440 * S + 500_000_000, "05.999") == "40.5"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{{ .Time.Format "2006-01-02" }}', "2015-12-30"),
        ('{{ "15:04" | .Time.Format }}', "13:50"),
        ('{{ $t := .Time }}{{ $t.Format "Jan 2" }}', "Dec 30"),
        ('{{ (.Time).Format "2006" }}', "2015"),
        ("{{ .Time.Unix }}", "1451483440"),
        ("{{ .Time.UnixMilli }}", "1451483440123"),
        ("{{ .Time.UnixMicro }}", "1451483440123456"),
        ("{{ .Time.UnixNano }}", str(T)),
        ("{{ .Time.Year }}-{{ .Time.Month }}-{{ .Time.Day }}", "2015-December-30"),
        ("{{ .Time.Hour }}:{{ .Time.Minute }}:{{ .Time.Second }}", "13:50:40"),
        ("{{ .Time.Nanosecond }}", "123456789"),
        ("{{ .Time.YearDay }}", "364"),
        ("{{ .Time.Weekday }}", "Wednesday"),
        ("{{ .Time.UTC }}", "2015-12-30 13:50:40.123456789 +0000 UTC"),
        ("{{ .Time.Local.Year }}", "2015"),
        ("{{ .Time.IsZero }}", "false"),
        ("{{ .Time.String }}", "2015-12-30 13:50:40.123456789 +0000 UTC"),
        ("{{ .Time.Add .Duration }}", "2015-12-30 13:52:10.123456789 +0000 UTC"),
        ("{{ .Time.Add 1000000000 }}", "2015-12-30 13:50:41.123456789 +0000 UTC"),
        ("{{ (.Time.Add .Duration).Sub .Time }}", "1m30s"),
        ("{{ .Time.Before (.Time.Add 1) }}", "true"),
        ("{{ .Time.After (.Time.Add 1) }}", "false"),
        ("{{ .Time.Equal .Time }}", "true"),
        ("{{ .Duration.Seconds }}", "90"),
        ("{{ .Duration.Minutes }}", "1.5"),
        ("{{ .Duration.Hours }}", "0.025"),
        ("{{ .Duration.Milliseconds }}", "90000"),
        ("{{ .Duration.Microseconds }}", "90000000"),
        ("{{ .Duration.Nanoseconds }}", "90000000000"),
        ("{{ .Duration.String }}", "1m30s"),
        ("{{ .Neg.Abs }}", "1.5s"),
        ("{{ .Neg.Milliseconds }}", "-1500"),
        ("{{ .Neg.Seconds }}", "-1.5"),
        ("{{ .Duration.Round 60000000000 }}", "2m0s"),
        ("{{ .Duration.Truncate 60000000000 }}", "1m0s"),
        ("{{ .Neg.Round 1000000000 }}", "-2s"),
        ("{{ .Neg.Truncate 1000000000 }}", "-1s"),
        ('{{ printf "%.1f min" .Duration.Minutes }}', "1.5 min"),
        ("{{ if gt .Duration.Seconds 60.0 }}long{{ end }}", "long"),
    ],
)
def test_methods(text: str, want: str) -> None:
    assert Template.parse(text).render(DATA) == want


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("{{ .Time.Format }}", "wrong number of args for Format: want 1 got 0"),
        ('{{ .Time.Unix "x" }}', "wrong number of args for Unix: want 0 got 1"),
        ("{{ .Time.Format 5 }}", "expected string"),
        ('{{ .Time.Sub "x" }}', "expected time.Time"),
        ('{{ .Time.Add "x" }}', "expected time.Duration"),
        ("{{ .Time.Nope }}", "can't evaluate field Nope in type time.Time"),
        ('{{ .Time.Nope "x" }}', "can't give argument to non-function .Time.Nope"),
        ("{{ .Duration.Nope }}", "can't evaluate field Nope in type time.Duration"),
    ],
)
def test_method_errors(text: str, msg: str) -> None:
    with pytest.raises(TemplateError) as exc:
        Template.parse(text, name="m").render(DATA)
    assert msg in str(exc.value)


def test_methods_in_html_templates() -> None:
    t = Template.parse('<td>{{ .Time.Format "2006-01-02 15:04" }}</td>', html=True)
    assert t.render(DATA) == "<td>2015-12-30 13:50</td>"


def test_zero_time() -> None:
    data: dict[str, Any] = {"T": GoTime(-62135596800 * S)}
    assert Template.parse("{{ .T.IsZero }}").render(data) == "true"
