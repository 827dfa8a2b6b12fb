"""Flux queries to InfluxDB 2.x (``queryFlux`` batch nodes), and their annotated-CSV answers read
the way Kapacitor reads them (``influxdb/flux_csv.go``, ``influxdb/flux_response.go``).

The request is InfluxDB 2's ``POST /api/v2/query?org=..`` (or ``orgID``) with ``{"type": "flux",
"query": ..., "now": <tick - offset>, "dialect": {annotated CSV}}``, made by the
``influxdb-client`` library with the ``[[influxdb]]`` section's token.

Each table of the answer becomes one series: its name the ``_measurement`` of the table's first
row, its tags the group-key columns (``_start``, ``_stop`` and ``_measurement`` left out, so
``_field`` and the tag columns), its columns the other columns, ``_time`` renamed ``time``;
values typed by the ``#datatype`` annotation (``long`` ints stay ints). An error table is a
``flux query error: ...``. Kapacitor fails the whole answer on an empty cell (a null); kapfast
leaves that field out of that row instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError
from kapfast.timefmt import parse_rfc3339_ns

_SKIP = 3  # the annotation column, "result" and "table"
_NOT_TAGS = ("_measurement", "_start", "_stop")


@dataclass
class FluxSeries:
    name: str
    tags: dict[str, str]
    columns: list[str]
    #: rows of values by column; ``time`` as int ns; None for an empty cell
    values: list[list[Any]] = field(default_factory=list)


def _convert(dtype: str, s: str) -> Any:
    if s == "":
        return None  # a null
    if dtype == "string":
        return s
    if dtype in ("dateTime", "dateTime:RFC3339", "dateTime:RFC3339Nano"):
        return parse_rfc3339_ns(s)
    if dtype == "double":
        return float(s)
    if dtype == "boolean":
        return s != "false"
    if dtype in ("long", "unsignedLong"):
        return int(s, 10)
    raise ValueError(f"{s} has unknown data type {dtype}")


def parse_flux_csv(text: str) -> list[FluxSeries]:
    """The series of an annotated-CSV answer (``#datatype`` and ``#group`` annotations, header)."""
    out: list[FluxSeries] = []
    types: list[str] = []
    group: list[bool] = []
    names: list[str] = []
    fields: list[int] = []
    tags: list[int] = []
    expect_names = False
    table: str | None = None
    current: FluxSeries | None = None
    rows = csv.reader(io.StringIO(text))
    for row in rows:
        if len(row) > 2 and row[1] == "error":
            err = next(rows, None)
            if err is None or len(err) != len(row):
                raise InfluxDBError("invalid query data")
            raise InfluxDBError(f"flux query error: {err[1]}")
        if len(row) < _SKIP:
            continue  # blank line between tables
        head = row[0]
        if head == "#datatype":
            types = row[_SKIP:]
        elif head == "#group":
            group = [x == "true" for x in row[_SKIP:]]
            expect_names = True
        elif head == "":
            if len(row) <= 5:
                raise InfluxDBError("Unexpectedly few columns")
            if expect_names:
                names = ["time" if n == "_time" else n for n in row[_SKIP:]]
                fields = [i for i, n in enumerate(names) if n not in _NOT_TAGS and not _at(group, i)]
                tags = [i for i, n in enumerate(names) if n not in _NOT_TAGS and _at(group, i)]
                expect_names = False
                table = None
                continue
            cells = row[_SKIP:]
            if row[2] != table or current is None:
                table = row[2]
                m = names.index("_measurement") if "_measurement" in names else -1
                current = FluxSeries(
                    name=cells[m] if m >= 0 else "",
                    tags={names[i]: cells[i] for i in tags},
                    columns=[names[i] for i in fields],
                )
                out.append(current)
            try:
                current.values.append(
                    [_convert(types[i] if i < len(types) else "", cells[i]) for i in fields]
                )
            except (ValueError, IndexError) as e:
                raise InfluxDBError(f"failed to understand query result: {e}") from None
    return out


def _at(flags: list[bool], i: int) -> bool:
    return i < len(flags) and flags[i]


class FluxClient:
    """One InfluxDB 2.x server's query API (an ``[[influxdb]]`` section with a token)."""

    def __init__(
        self,
        url: str,
        token: str,
        org: str = "",
        timeout_s: float = 30.0,
        verify_ssl: bool = True,
        ssl_ca: str = "",
    ) -> None:
        self.url = url
        self.token = token
        self.org = org
        self.timeout_s = timeout_s
        self.verify_ssl = verify_ssl
        self.ssl_ca = ssl_ca
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            # ~0.4 s to import: only when used
            from influxdb_client.client.influxdb_client import InfluxDBClient

            self._client = InfluxDBClient(
                url=self.url,
                token=self.token,
                org=self.org,
                timeout=int(self.timeout_s * 1000),
                verify_ssl=self.verify_ssl,
                ssl_ca_cert=self.ssl_ca or None,
            )
        return self._client

    def query_csv(self, flux: str, org: str = "", org_id: str = "", now_ns: int | None = None) -> str:
        """The annotated CSV of one query (blocking: run it off the event loop)."""
        from influxdb_client.domain import dialect, query
        from influxdb_client.rest import ApiException
        from influxdb_client.service import query_service

        # the library's generated classes are untyped
        Dialect: Any = dialect.Dialect
        Query: Any = query.Query
        QueryService: Any = query_service.QueryService

        now = None
        if now_ns is not None:
            now = dt.datetime.fromtimestamp(now_ns // 10**9, tz=dt.UTC) + dt.timedelta(
                microseconds=now_ns % 10**9 // 1000
            )
        request = Query(
            query=flux,
            type="flux",
            now=now,
            dialect=Dialect(header=True, delimiter=",", annotations=["datatype", "group", "default"]),
        )
        kwargs: dict[str, Any] = {"query": request, "async_req": False, "_preload_content": False}
        if org_id:
            kwargs["org_id"] = org_id
        elif org or self.org:
            kwargs["org"] = org or self.org
        try:
            resp = QueryService(self._api().api_client).post_query(**kwargs)
            return bytes(resp.data).decode("utf-8")
        except ApiException as e:
            raise InfluxDBError(_api_message(e), status=int(e.status or 0)) from None
        except OSError as e:
            raise InfluxDBConnectionError(f"failed to query InfluxDB at {self.url}: {e}") from None
        except Exception as e:  # urllib3's errors (MaxRetryError, timeouts) are not OSErrors
            raise InfluxDBConnectionError(f"failed to query InfluxDB at {self.url}: {e}") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _api_message(e: Any) -> str:
    import json

    try:
        body = json.loads(e.body or "")
        return str(body.get("message") or body.get("error") or e.reason)
    except (ValueError, AttributeError):
        return str(e.body or e.reason)
