"""``httpPost``: POST every point (stream) or every batch to an HTTP endpoint, and pass it on.

As Kapacitor (``http_post.go``): the URL is the node's argument or an ``[[httppost]]`` endpoint
(``.endpoint(name)``: its URL, headers, basic auth and ``row-template``). The URL itself is a Go
template over the row (``{{.Name}}``, ``{{index .Tags "host"}}``). The body is the row as
``{"series":[row]}`` JSON (``Content-Type: application/json``), or the endpoint's row template
rendered over ``{Name, Tags, Values}`` (no content type then). ``.header(k, v)`` headers override
the endpoint's. A non-2xx answer is logged (with the body when ``.captureResponse()``); a request
that fails below HTTP gets status 0. ``.codeField(name)`` adds the status as an int field to the
point (to every point of a batch).

Kapacitor waits forever when ``.timeout()`` is not set, which stalls the task behind a dead web
server; kapfast waits at most 10 s then (``.timeout()`` sets another bound).

One request per point is inherent to the node; the points of a chunk are read as rows only here,
and the code field goes back onto the whole chunk in one Rust call.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import numpy as np

from kapfast.batch import PointBatch, batch_with_fields_of
from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S
from kapfast.engine.alert.handlers.post import Endpoint, _is_loopback
from kapfast.engine.alert.services import SERVICE_KEY as ALERT_SERVICES
from kapfast.engine.alert.services import AlertServices
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.nodes.outputs import batch_row_columns, point_row
from kapfast.engine.rows import batch_rows
from kapfast.errors import TaskError
from kapfast.gofmt import GoMap, GoStringMap, GoStruct, GoTime, json_encode, json_string
from kapfast.gotemplate import Template, TemplateError
from kapfast.tick.checks import repeated_pairs
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.timefmt import parse_rfc3339_ns


class _NoDefaultContentType(urllib.request.BaseHandler):
    """Go sends a body without a Content-Type when none is set (a row template's body); urllib
    would add ``application/x-www-form-urlencoded``. Runs after urllib's own preprocessing."""

    handler_order = 1000

    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        if "Content-type" not in req.headers:
            req.unredirected_hdrs.pop("Content-type", None)
        return req

    https_request = http_request


def row_json(row: dict[str, Any]) -> bytes:
    """``json.Encoder.Encode(models.Result{Series: [row]})``: Go's field order, empty parts left
    out (``omitempty``), HTML-safe escaping, a trailing newline."""
    parts = []
    if row.get("name"):
        parts.append('"name":' + json_string(row["name"]))
    if row.get("tags"):
        parts.append('"tags":' + json_encode(dict(row["tags"])))
    if row.get("columns"):
        parts.append('"columns":' + json_encode(row["columns"]))
    if row.get("values"):
        parts.append('"values":' + json_encode(row["values"]))
    return ('{"series":[{' + ",".join(parts) + "}]}\n").encode()


def mapped_row(row: dict[str, Any]) -> GoStruct:
    """What a row template (and the URL template) sees: ``Name``, ``Tags``, and ``Values`` as one
    map per value row (column name -> value; ``time`` is a time.Time)."""
    cols = row.get("columns") or []
    values = []
    for vals in row.get("values") or []:
        m = GoMap()
        for c, v in zip(cols, vals, strict=False):
            m[c] = GoTime(parse_rfc3339_ns(v)) if c == "time" and isinstance(v, str) else v
        values.append(m)
    return GoStruct(
        "kapacitor.mappedRow",
        {"Name": row.get("name", ""), "Tags": GoStringMap(row.get("tags") or {}), "Values": values},
    )


class HttpPostNode(Node):
    may_wait = True  # for the endpoint's answer, up to its timeout

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.headers_endpoint: dict[str, str] = {}
        self.row_template: Template | None = None
        endpoints = p.get("endpoint") or []
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if spec.args:
            url = str(spec.args[0])
        else:
            name = str(endpoints[0])
            services = ctx.services.get(ALERT_SERVICES)
            known = services.service("post") if isinstance(services, AlertServices) else None
            e = (known or {}).get(name)
            if not isinstance(e, Endpoint):
                raise TaskError(f"{self.name}: endpoint '{name}' does not exist")
            url = e.url
            self.headers_endpoint = dict(e.headers)
            self.row_template = e.row_template
        try:
            self.url = Template.parse(url, name="url")
        except TemplateError as exc:
            raise TaskError(f"{self.name}: error in url templating: {exc}") from None
        # a plain URL needs no rendering per request
        self.url_plain = url if "{{" not in url else None
        self.headers = {str(k): str(v) for k, v in repeated_pairs(p.get("header"))}
        self.capture = bool(p.get("captureResponse"))
        self.code_field = str(p.get("codeField") or "")
        t = dur_ns(p.get("timeout"))
        self.timeout_s = t / 1e9 if t > 0 else DEFAULT_TIMEOUT_S
        handlers: list[urllib.request.BaseHandler] = [_NoDefaultContentType()]
        if self.url_plain is not None and _is_loopback(self.url_plain):
            handlers.append(urllib.request.ProxyHandler({}))  # as Go: no proxy for loopback
        self._opener = urllib.request.build_opener(*handlers)

    # --- requests ------------------------------------------------------------------------------

    def post(self, row: dict[str, Any]) -> int:
        """POST one row; its HTTP status, 0 when no answer came (logged, counted as an error)."""
        mr = mapped_row(row) if (self.row_template is not None or self.url_plain is None) else None
        try:
            if self.row_template is not None:
                body = self.row_template.render(mr).encode()
                ctype = ""
            else:
                body = row_json(row)
                ctype = "application/json"
            url = self.url_plain if self.url_plain is not None else self.url.render(mr)
        except (TemplateError, ValueError) as exc:
            self.error(1, f"failed to POST data: {exc}")
            return 0
        headers = dict(self.headers_endpoint)
        if ctype:
            headers["Content-Type"] = ctype
        headers.update(self.headers)
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = self._opener
        if self.url_plain is None and _is_loopback(url):
            opener = urllib.request.build_opener(_NoDefaultContentType(), urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=self.timeout_s) as resp:
                resp.read()
                return int(resp.status)
        except urllib.error.HTTPError as e:
            code = int(e.code)
            if self.capture:
                try:
                    detail = e.read().decode("utf-8", "replace")
                except OSError as exc:
                    detail = str(exc)
            else:
                detail = "unknown error, use .captureResponse() to capture the HTTP response"
            self.error(1, f"POST returned non 2xx status code: code={code} err={detail}")
            return code
        except (urllib.error.URLError, OSError, ValueError) as e:
            self.error(1, f"failed to POST data: {getattr(e, 'reason', e)}")
            return 0

    # --- messages ------------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        rows = batch_rows(chunk.batch)
        codes = [self.post(point_row(r)) for r in rows]
        if self.code_field:
            chunk = chunk.with_batch(self._with_codes(chunk.batch, codes))
        self.emit(chunk)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        code = self.post(batch_row_columns(batch.name, dict(batch.group.tags), batch.points))
        if self.code_field and len(batch.points):
            points = self._with_codes(batch.points, [code] * len(batch.points))
            batch = BatchMessage(batch.name, batch.group, batch.tmax, points, batch.by_name)
        self.emit(batch)

    def _with_codes(self, points: PointBatch, codes: list[int]) -> PointBatch:
        """``points`` with the status codes as the int field ``codeField`` (replacing one)."""
        times = np.asarray(points.time()).tolist()
        src = PointBatch.from_rows(
            [("c", {}, {self.code_field: c}, t) for c, t in zip(codes, times, strict=True)],
            {self.code_field: "integer"},
        )
        return batch_with_fields_of(points, src, [self.code_field])
