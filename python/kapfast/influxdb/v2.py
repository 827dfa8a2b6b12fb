"""Writing to InfluxDB 2.x: influxDBOut's points through the v2 write API (``/api/v2/write``).

An ``[[influxdb]]`` with a ``token`` is an InfluxDB 2.x target. kapfast's InfluxDB client talks
to its 1.x-compatible ``/query`` and ``/write`` with ``Authorization: Token ...``; influxDBOut
writes through the ``influxdb-client`` library's async write API instead, to a bucket in an org.
The bucket of a (db, rp) follows InfluxDB 2's DBRP naming, ``db/rp`` (``db`` alone when the rp is
empty: the database's default), unless ``bucket`` names one bucket for every write.

InfluxDB 2 knows the precisions ns, us, ms and s; line protocol written with influxDBOut's
``.precision('m')`` or ``('h')`` has its timestamps rescaled to seconds on the way.

Errors keep InfluxDB's text and become :class:`~kapfast.influxdb.InfluxDBError` with the HTTP
status (None when no answer came), which is what the influxDBOut writer's retry policy reads.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, cast

import aiohttp

from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
    from influxdb_client.domain.write_precision import WritePrecision

# The library is imported on first use: it costs ~0.4 s, which every `kapfast` command and
# 1.x-only server would pay for nothing. It types precisions as WritePrecision, whose constants
# are these plain strings.
_PRECISION = {"n": "ns", "ns": "ns", "u": "us", "us": "us", "ms": "ms", "s": "s"}
_TO_SECONDS = {"m": 60, "h": 3600}


def bucket_name(db: str, rp: str) -> str:
    """InfluxDB 2's DBRP bucket naming: ``db/rp``, or ``db`` for the default rp."""
    return f"{db}/{rp}" if rp else db


def rescale_to_seconds(body: bytes, factor: int) -> bytes:
    """Line protocol with minute/hour timestamps rewritten in seconds (2.x has no m/h precision).

    A timestamp is the last space-separated token of a line when it is an integer; a line without
    one keeps none (the server's time applies)."""
    out = []
    for line in body.split(b"\n"):
        head, sep, tail = line.rstrip().rpartition(b" ")
        if sep and tail.lstrip(b"-").isdigit() and not head.endswith(b"\\"):
            line = head + b" " + str(int(tail) * factor).encode()
        out.append(line)
    return b"\n".join(out)


class InfluxDB2Writer:
    """Writes line protocol to one InfluxDB 2.x server (one ``[[influxdb]]`` with a token)."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        org: str,
        bucket: str = "",
        timeout_s: float = 30.0,
        gzip: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not token:
            raise ValueError("an InfluxDB 2.x writer needs a token")
        self.url = url.rstrip("/")
        self.token = token
        self.org = org
        self.bucket = bucket
        self.timeout_s = timeout_s
        self.gzip = gzip
        self._ssl = ssl_context
        self._client: InfluxDBClientAsync | None = None

    def _get(self) -> InfluxDBClientAsync:
        # Made on first use: the library's aiohttp session belongs to the running loop.
        if self._client is None:
            from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

            kwargs: dict[str, Any] = {}
            if self._ssl is not None:
                kwargs["ssl_context"] = self._ssl
            if self.org:
                kwargs["org"] = self.org
            self._client = InfluxDBClientAsync(
                url=self.url,
                token=self.token,
                timeout=int(self.timeout_s * 1000),
                enable_gzip=self.gzip,
                **kwargs,
            )
        return self._client

    def bucket_for(self, db: str, rp: str) -> str:
        return self.bucket or bucket_name(db, rp)

    async def write(self, db: str, rp: str, body: bytes, precision: str = "ns") -> None:
        """Write line protocol for ``db``/``rp`` (to its bucket). Raises :class:`InfluxDBError`."""
        if precision in _TO_SECONDS:
            body, precision = rescale_to_seconds(body, _TO_SECONDS[precision]), "s"
        prec = _PRECISION.get(precision)
        if prec is None:
            raise InfluxDBError(f"invalid precision {precision!r} for InfluxDB 2: use ns, us, ms, s, m or h")
        bucket = self.bucket_for(db, rp)
        api = self._get().write_api()
        from influxdb_client.client.exceptions import InfluxDBError as LibError

        org = {"org": self.org} if self.org else {}
        try:
            await api.write(
                bucket=bucket, record=body.rstrip(b"\n"), write_precision=cast("WritePrecision", prec), **org
            )
        except LibError as exc:
            status = getattr(exc, "status", None)
            raise InfluxDBError(
                f"write to bucket {bucket!r} failed: {exc.message}", status=int(status) if status else None
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise InfluxDBConnectionError(f"cannot reach InfluxDB 2 at {self.url}: {reason}") from None

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()  # type: ignore[no-untyped-call]


__all__ = ["InfluxDB2Writer", "bucket_name", "rescale_to_seconds"]
