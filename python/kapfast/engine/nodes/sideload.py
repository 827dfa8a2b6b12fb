"""``sideload``: add fields and tags to points from a hierarchy of YAML/JSON files.

As Kapacitor (``sideload.go``, ``services/sideload``): ``.source('file:///abs/dir')`` names a
folder whose ``.yml``/``.yaml``/``.json`` files (any depth) each hold a map of key -> value; the
file of each point is found through ``.order()``: Go templates over the point's tags giving paths
relative to the folder (``host/{{.host}}.yml``), tried in order; the first file holding a key
gives its value. ``.field(key, default)`` values are converted to the default's type (an int
from ``98.0``, a float from ``"0.5"``, a string from a number; anything else is an error, logged,
and the default is used), ``.tag(key, default)`` values must convert to strings. A key no file
holds gets its default. A point whose order templates fail to render is passed on unchanged.

The files are read when the first task using the folder starts and again on
``POST /kapacitor/v1/sideload/reload`` (a folder that cannot be read then is a 500 and keeps its
former values), never per point. Sources are shared by every task of a server through
``ctx.services["sideload"]`` (a :class:`SideloadService`).

Columnar: a chunk's rows are reduced to their distinct tag sets; the lookup runs once per set
and its result is spread back over the rows in Rust (``take`` and ``batch_with_*_of``).
"""

from __future__ import annotations

import json
import math
import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np

from kapfast.batch import PointBatch, batch_with_fields_of, batch_with_tags_of
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, StreamChunk
from kapfast.engine.node import Node
from kapfast.errors import KapfastError, TaskError
from kapfast.gofmt import GoStringMap, format_float, go_type_name
from kapfast.gotemplate import Template, TemplateError
from kapfast.tick.checks import repeated_pairs
from kapfast.tick.pipeline import Node as NodeSpec

SERVICE_KEY = "sideload"

Values = dict[str, Any]


class SideloadError(KapfastError):
    """A sideload source that cannot be read."""


def read_values(path: Path) -> Values:
    """One file's map of values: YAML or JSON by extension, nothing for any other file."""
    ext = path.suffix
    if ext not in (".yml", ".yaml", ".json"):
        return {}
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SideloadError(f"failed to read values file {str(path)!r}: {e}") from None
    try:
        if ext == ".json":
            doc = json.loads(data) if data.strip() else {}
        else:
            import yaml  # PyYAML: only where a YAML file is read

            doc = yaml.safe_load(data) or {}
    except ValueError as e:
        raise SideloadError(f"failed to unmarshal {ext.lstrip('.')} values {str(path)!r}: {e}") from None
    except Exception as e:  # yaml.YAMLError
        raise SideloadError(f"failed to unmarshal yaml values {str(path)!r}: {e}") from None
    if not isinstance(doc, dict):
        raise SideloadError(f"values file {str(path)!r} must hold a map of keys to values")
    return {str(k): _json_number(v) for k, v in doc.items()}


def _json_number(v: Any) -> Any:
    """Numbers as Go's encoding/json reads them (every number a float64; Kapacitor's YAML goes
    through JSON too)."""
    if isinstance(v, bool) or not isinstance(v, int):
        return v
    return float(v)


class FileSource:
    """One folder's files: relative path -> values."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.cache: dict[str, Values] = {}
        self.users = 0
        self.lock = threading.Lock()

    def update(self) -> None:
        """Read every file again; on failure the former values stay."""
        cache: dict[str, Values] = {}
        if not os.path.isdir(self.folder):
            raise SideloadError(
                f"failed to update sideload cache for source file {self.folder!r}: not a folder"
            )
        for root, _dirs, files in os.walk(self.folder):
            for name in files:
                path = Path(root) / name
                cache[os.path.relpath(path, self.folder)] = read_values(path)
        with self.lock:
            self.cache = cache

    def lookup(self, order: list[str], key: str) -> Any:
        """The value of ``key`` in the first file of ``order`` holding it (None: none does)."""
        cache = self.cache
        for o in order:
            values = cache.get(os.path.normpath(o))
            if values is not None and key in values:
                return values[key]
        return None


class SideloadService:
    """The server's sideload sources, shared by tasks (one per folder) and reloaded together."""

    def __init__(self) -> None:
        self.sources: dict[str, FileSource] = {}
        self.lock = threading.Lock()

    def source(self, url: str) -> FileSource:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "file":
            raise SideloadError(f"unsupported source scheme {u.scheme!r}, must be 'file'")
        path = urllib.parse.unquote(u.path)
        if not os.path.isabs(path):
            raise SideloadError(f"sideload source path must be absolute {path!r}")
        folder = os.path.normpath(path)
        with self.lock:
            src = self.sources.get(folder)
            if src is None:
                src = FileSource(folder)
                src.update()
                self.sources[folder] = src
            src.users += 1
            return src

    def release(self, src: FileSource) -> None:
        with self.lock:
            src.users -= 1
            if src.users <= 0:
                self.sources.pop(src.folder, None)

    def reload(self) -> None:
        """Read every source again (``POST /kapacitor/v1/sideload/reload``)."""
        with self.lock:
            sources = list(self.sources.values())
        for src in sources:
            try:
                src.update()
            except SideloadError as e:
                raise SideloadError(f"failed to update source {src.folder!r}: {e}") from None


def _format_number(v: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``."""
    return format_float(v, "f", -1)


def convert(value: Any, default: Any) -> Any:
    """A loaded value in the type of its default (Kapacitor's ``convertType``); ValueError when
    it does not convert."""
    src = value
    if isinstance(default, bool):
        if isinstance(src, bool):
            return src
        if isinstance(src, str):
            low = src
            if low in ("1", "t", "T", "TRUE", "true", "True"):
                return True
            if low in ("0", "f", "F", "FALSE", "false", "False"):
                return False
            raise ValueError(f"cannot convert string to bool: {src!r}")
    elif isinstance(default, int):
        if isinstance(src, bool):
            pass
        elif isinstance(src, int):
            return src
        elif isinstance(src, float):
            if math.isfinite(src) and float(int(src)) == src:
                return int(src)
        elif isinstance(src, str):
            try:
                return int(src, 10)
            except ValueError:
                raise ValueError(f"cannot convert string to int64: {src!r}") from None
    elif isinstance(default, float):
        if isinstance(src, bool):
            pass
        elif isinstance(src, int | float):
            return float(src)
        elif isinstance(src, str):
            try:
                return float(src)
            except ValueError:
                raise ValueError(f"cannot convert string to float64: {src!r}") from None
    elif isinstance(default, str):
        if isinstance(src, bool):
            return "true" if src else "false"
        if isinstance(src, int):
            return str(src)
        if isinstance(src, float):
            return _format_number(src)
        if isinstance(src, str):
            return src
    raise ValueError(f"cannot convert value of type {go_type_name(src)} to type {go_type_name(default)}")


_KIND = {bool: "boolean", int: "integer", float: "float", str: "string"}


class SideloadNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        source = str(p.get("source") or "")
        if not source:
            raise TaskError(f"{self.name}: sideload needs a .source('file:///path/to/dir')")
        service = ctx.services.get(SERVICE_KEY)
        if not isinstance(service, SideloadService):
            service = SideloadService()  # offline runs: a source of this task's own
        self.service = service
        try:
            self.source = service.source(source)
        except SideloadError as e:
            raise TaskError(f"{self.name}: {e}") from None
        ctx.on_close.append(lambda: self.service.release(self.source))
        order = p.get("order") or []
        if isinstance(order, str):
            order = [order]
        try:
            self.order = [(str(o), Template.parse(str(o), name="order")) for o in order]
        except TemplateError as e:
            raise TaskError(f"{self.name}: {e}") from None
        # later calls of the same key win, as Kapacitor's map
        self.fields: dict[str, Any] = {str(k): v for k, v in repeated_pairs(p.get("field"))}
        self.tags: dict[str, str] = {str(k): str(v) for k, v in repeated_pairs(p.get("tag"))}
        for k, v in self.fields.items():
            if type(v) not in _KIND:
                raise TaskError(f"{self.name}: .field('{k}', ...) default must be a number, string or bool")

    # --- lookup per distinct tag set -----------------------------------------------------------

    def _lookup(self, tags: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The fields and tags one tag set gets (None: its order did not render)."""
        data = GoStringMap(tags)
        order = []
        for raw, tmpl in self.order:
            try:
                order.append(tmpl.render(data))
            except TemplateError as e:
                self.error(1, f"failed to evaluate order template {raw!r}: {e}")
                return None
        fields: dict[str, Any] = {}
        for key, dflt in self.fields.items():
            fields[key] = self._value(order, key, dflt)
        out_tags = dict(tags)
        for key, dflt in self.tags.items():
            out_tags[key] = str(self._value(order, key, dflt))
        return fields, out_tags

    def _value(self, order: list[str], key: str, dflt: Any) -> Any:
        value = self.source.lookup(order, key)
        if value is None:
            return dflt
        try:
            return convert(value, dflt)
        except ValueError as e:
            self.log.error(
                "%s: failed to load key %s (expected %s, got %s): %s",
                self.name,
                key,
                go_type_name(dflt),
                go_type_name(value),
                e,
            )
            return dflt

    def apply(self, points: PointBatch) -> PointBatch:
        """``points`` with the sideloaded fields and tags."""
        n = len(points)
        if not n or not (self.fields or self.tags):
            return points
        keys = sorted(points.tag_keys())
        dicts: list[list[str]] = []
        if keys:
            cols = []
            for k in keys:
                codes, dictionary = points.tag(k)
                cols.append(np.asarray(codes, dtype=np.int64))
                dicts.append(dictionary)
            combos, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
        else:
            combos = np.zeros((1, 0), dtype=np.int64)
            inverse = np.zeros(n, dtype=np.intp)
        rows = []
        keep = np.ones(len(combos), dtype=bool)
        for i, combo in enumerate(combos.tolist()):
            tags = {
                k: dicts[j][c]
                for j, (k, c) in enumerate(zip(keys, combo, strict=True))
                if 0 <= c < len(dicts[j])
            }
            got = self._lookup(tags)
            if got is None:
                keep[i] = False
                got = ({}, tags)
            fields, new_tags = got
            rows.append(("s", new_tags, fields or {"unused": 0}, 0))
        if not keep.all():
            return self._apply_partial(points, keep[inverse])
        kinds = {k: _KIND[type(v)] for k, v in self.fields.items()}
        src = PointBatch.from_rows(rows, kinds).take(inverse)
        out = points
        if self.fields:
            out = batch_with_fields_of(out, src, list(self.fields))
        if self.tags:
            out = batch_with_tags_of(out, src)
        return out

    def _apply_partial(self, points: PointBatch, ok_rows: np.ndarray[Any, Any]) -> PointBatch:
        """Some tag sets failed their order templates: those rows go on unchanged (rare path)."""
        idx_ok = np.flatnonzero(ok_rows)
        idx_bad = np.flatnonzero(~ok_rows)
        done = self.apply(points.take(idx_ok)) if len(idx_ok) else points.take(idx_ok)
        merged = PointBatch.concat([done, points.take(idx_bad)])
        return merged.take(np.argsort(np.concatenate([idx_ok, idx_bad]), kind="stable"))

    # --- messages ------------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self.emit(chunk.with_batch(self.apply(chunk.batch)))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, self.apply(batch.points), batch.by_name))
