"""The timestamp token of a line-protocol line, found and converted without a full parse."""

from __future__ import annotations

from kapfast.timefmt import INT64_MAX, INT64_MIN

#: Nanoseconds per unit of each precision name InfluxDB and Kapacitor accept.
PRECISION_NS: dict[str, int] = {
    "n": 1,
    "ns": 1,
    "u": 1_000,
    "us": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

_WS = b" \t"


def precision_multiplier(precision: str) -> int:
    try:
        return PRECISION_NS[precision]
    except KeyError:
        raise ValueError(
            f"unknown precision {precision!r} (one of {', '.join(sorted(PRECISION_NS))})"
        ) from None


def split_timestamp(line: bytes) -> tuple[bytes, bytes | None]:
    """Split a line-protocol line into (everything before the timestamp, timestamp token or None).

    The timestamp is the last space-separated token when it cannot belong to the field set: a field
    set token always holds ``=`` or ends a quoted string with ``"``, and an escaped space (``\\ ``)
    does not separate tokens.
    """
    stripped = line.rstrip(_WS)
    i = max(stripped.rfind(b" "), stripped.rfind(b"\t"))
    if i <= 0:
        return stripped, None
    tok = stripped[i + 1 :]
    if b"=" in tok or tok.endswith(b'"') or stripped[i - 1 : i] == b"\\":
        return stripped, None
    return stripped[:i].rstrip(_WS), tok


def parse_timestamp_token(tok: bytes, multiplier: int) -> int:
    """An integer timestamp token in some precision -> ns. Raises ``ValueError`` with the reason."""
    digits = tok[1:] if tok.startswith(b"-") else tok
    if not digits.isdigit():
        raise ValueError(f"bad timestamp {tok.decode('utf-8', 'replace')!r}")
    ns = int(tok) * multiplier
    if not INT64_MIN <= ns <= INT64_MAX:
        raise ValueError(f"timestamp {tok.decode()} is out of range")
    return ns


def shift_lines_fast(
    lines: list[bytes], multiplier: int, offset: int
) -> tuple[list[bytes], list[int]] | None:
    """Rewrite many lines at once: (``head ns_time\\n`` lines, ns times), or None when any line
    needs the careful path (no plain non-negative timestamp, or out of range).

    Every step is a C-level pass over the list, so a block of lines costs well under a microsecond
    per line; the careful path (:func:`split_timestamp`) gives the exact error.
    """
    if not lines:
        return [], []
    parts = [line.rsplit(b" ", 1) for line in lines]
    toks = [p[-1] for p in parts]
    joined = b"".join(toks)
    # One check for the whole block: every line has a space and its last token is all digits (a
    # field set token, a negative or a tab-separated timestamp fail it and take the careful path).
    # (Digits after an escaped space cannot end a valid line: they would be inside a field value
    # that is not a quoted string, so the parser rejects that line either way.)
    if not joined.isdigit() or min(map(len, parts)) != 2 or min(map(len, toks)) == 0:
        return None
    times = list(map(int, toks))
    if multiplier != 1 or offset:
        times = [t * multiplier + offset for t in times]
    if times and (min(times) < INT64_MIN or max(times) > INT64_MAX):
        return None
    heads = [p[0].rstrip(_WS) for p in parts]
    out = list(map(b"%b %d\n".__mod__, zip(heads, times, strict=True)))
    return out, times


__all__ = [
    "PRECISION_NS",
    "parse_timestamp_token",
    "precision_multiplier",
    "shift_lines_fast",
    "split_timestamp",
]
