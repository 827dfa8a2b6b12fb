"""A minimal UDF agent library for the tests: udf.proto's messages built with the protobuf runtime
(the one Kapacitor's Python agents use), framed by varints. It shares nothing with kapfast, so the
agents prove the wire format, not kapfast's agreement with itself.

Run as a script: ``python agentlib.py KIND [socket path]`` (kinds in ``AGENTS``).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, BinaryIO

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _schema() -> descriptor_pb2.FileDescriptorProto:
    """udf.proto (package agent) as a descriptor, field numbers and types as in the schema."""
    fd = descriptor_pb2.FileDescriptorProto(name="udf_test.proto", package="agent", syntax="proto3")
    for name, values in (
        ("EdgeType", ("STREAM", "BATCH")),
        ("ValueType", ("BOOL", "INT", "DOUBLE", "STRING", "DURATION")),
    ):
        e = fd.enum_type.add(name=name)
        for i, v in enumerate(values):
            e.value.add(name=v, number=i)

    def msg(name: str, *fields: tuple[str, int, Any, str], oneof: str = "") -> descriptor_pb2.DescriptorProto:
        m = fd.message_type.add(name=name)
        if oneof:
            m.oneof_decl.add(name=oneof)
        for fname, num, ftype, type_name in fields:
            label = _F.LABEL_REPEATED if fname.startswith("*") else _F.LABEL_OPTIONAL
            f = m.field.add(name=fname.lstrip("*"), number=num, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if oneof:
                f.oneof_index = 0
        return m

    def map_entry(parent: descriptor_pb2.DescriptorProto, entry: str, vtype: Any, vname: str = "") -> None:
        m = parent.nested_type.add(name=entry)
        m.options.map_entry = True
        m.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
        v = m.field.add(name="value", number=2, type=vtype, label=_F.LABEL_OPTIONAL)
        if vname:
            v.type_name = vname

    S, I64, B, D, BY, E, M = (
        _F.TYPE_STRING,
        _F.TYPE_INT64,
        _F.TYPE_BOOL,
        _F.TYPE_DOUBLE,
        _F.TYPE_BYTES,
        _F.TYPE_ENUM,
        _F.TYPE_MESSAGE,
    )
    msg("InfoRequest")
    info = msg(
        "InfoResponse",
        ("wants", 1, E, ".agent.EdgeType"),
        ("provides", 2, E, ".agent.EdgeType"),
        ("*options", 3, M, ".agent.InfoResponse.OptionsEntry"),
    )
    map_entry(info, "OptionsEntry", M, ".agent.OptionInfo")
    msg("OptionInfo", ("*valueTypes", 1, E, ".agent.ValueType"))
    msg("InitRequest", ("*options", 1, M, ".agent.Option"), ("taskID", 2, S, ""), ("nodeID", 3, S, ""))
    msg("Option", ("name", 1, S, ""), ("*values", 2, M, ".agent.OptionValue"))
    ov = msg("OptionValue", ("type", 1, E, ".agent.ValueType"))
    ov.oneof_decl.add(name="value")
    for fname, num, ftype in (
        ("boolValue", 2, B),
        ("intValue", 3, I64),
        ("doubleValue", 4, D),
        ("stringValue", 5, S),
        ("durationValue", 6, I64),
    ):
        ov.field.add(name=fname, number=num, type=ftype, label=_F.LABEL_OPTIONAL, oneof_index=0)
    msg("InitResponse", ("success", 1, B, ""), ("error", 2, S, ""))
    msg("SnapshotRequest")
    msg("SnapshotResponse", ("snapshot", 1, BY, ""))
    msg("RestoreRequest", ("snapshot", 1, BY, ""))
    msg("RestoreResponse", ("success", 1, B, ""), ("error", 2, S, ""))
    msg("KeepaliveRequest", ("time", 1, I64, ""))
    msg("KeepaliveResponse", ("time", 1, I64, ""))
    msg("ErrorResponse", ("error", 1, S, ""))
    begin = msg(
        "BeginBatch",
        ("name", 1, S, ""),
        ("group", 2, S, ""),
        ("*tags", 3, M, ".agent.BeginBatch.TagsEntry"),
        ("size", 4, I64, ""),
        ("byName", 5, B, ""),
    )
    map_entry(begin, "TagsEntry", S)
    point = msg(
        "Point",
        ("time", 1, I64, ""),
        ("name", 2, S, ""),
        ("database", 3, S, ""),
        ("retentionPolicy", 4, S, ""),
        ("group", 5, S, ""),
        ("*dimensions", 6, S, ""),
        ("*tags", 7, M, ".agent.Point.TagsEntry"),
        ("*fieldsDouble", 8, M, ".agent.Point.FieldsDoubleEntry"),
        ("*fieldsInt", 9, M, ".agent.Point.FieldsIntEntry"),
        ("*fieldsString", 10, M, ".agent.Point.FieldsStringEntry"),
        ("*fieldsBool", 12, M, ".agent.Point.FieldsBoolEntry"),
        ("byName", 11, B, ""),
    )
    map_entry(point, "TagsEntry", S)
    map_entry(point, "FieldsDoubleEntry", D)
    map_entry(point, "FieldsIntEntry", I64)
    map_entry(point, "FieldsStringEntry", S)
    map_entry(point, "FieldsBoolEntry", B)
    end = msg(
        "EndBatch",
        ("name", 1, S, ""),
        ("group", 2, S, ""),
        ("tmax", 3, I64, ""),
        ("*tags", 4, M, ".agent.EndBatch.TagsEntry"),
        ("byName", 5, B, ""),
    )
    map_entry(end, "TagsEntry", S)
    for name, extra in (("Request", ()), ("Response", (("error", 6, "ErrorResponse"),))):
        m = fd.message_type.add(name=name)
        m.oneof_decl.add(name="message")
        kinds = [
            ("info", 1, "Info"),
            ("init", 2, "Init"),
            ("keepalive", 3, "Keepalive"),
            ("snapshot", 4, "Snapshot"),
            ("restore", 5, "Restore"),
        ]
        suffix = "Request" if name == "Request" else "Response"
        for fname, num, base in kinds:
            m.field.add(
                name=fname,
                number=num,
                type=M,
                label=_F.LABEL_OPTIONAL,
                type_name=f".agent.{base}{suffix}",
                oneof_index=0,
            )
        for fname, num, tname in (
            *extra,
            ("begin", 16, "BeginBatch"),
            ("point", 17, "Point"),
            ("end", 18, "EndBatch"),
        ):
            m.field.add(
                name=fname,
                number=num,
                type=M,
                label=_F.LABEL_OPTIONAL,
                type_name=f".agent.{tname}",
                oneof_index=0,
            )
    return fd


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_schema())
Request = message_factory.GetMessageClass(_pool.FindMessageTypeByName("agent.Request"))
Response = message_factory.GetMessageClass(_pool.FindMessageTypeByName("agent.Response"))
STREAM, BATCH = 0, 1
BOOL, INT, DOUBLE, STRING, DURATION = range(5)


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_message(inp: BinaryIO, cls: Any) -> Any | None:
    """The next framed message, or None at EOF."""
    n = shift = 0
    while True:
        b = inp.read(1)
        if not b:
            return None
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    data = inp.read(n)
    msg = cls()
    msg.ParseFromString(data)
    return msg


class Agent:
    """Reads requests, lets ``handler`` answer; writes without flushing per message (as
    Kapacitor's Python agents do) except after keepalives and control answers."""

    def __init__(self, inp: BinaryIO, out: BinaryIO, handler: Any) -> None:
        self.inp, self.out, self.handler = inp, out, handler
        handler.agent = self

    def write(self, resp: Any, flush: bool = False) -> None:
        data = resp.SerializeToString()
        self.out.write(encode_varint(len(data)) + data)
        if flush:
            self.out.flush()

    def run(self) -> None:
        while True:
            req = read_message(self.inp, Request)
            if req is None:
                self.out.flush()
                return
            kind = req.WhichOneof("message")
            if kind == "keepalive":
                r = Response()
                r.keepalive.time = req.keepalive.time
                self.write(r, flush=True)
                continue
            getattr(self.handler, kind)(getattr(req, kind))
            if kind not in ("point", "begin", "end"):
                self.out.flush()


class Mirror:
    """Stream in, stream out: every point back as it came, with ``.field(name)`` added when set;
    its snapshot is the count of points it saw, restored across restarts."""

    wants, provides = STREAM, STREAM

    def __init__(self) -> None:
        self.agent: Agent
        self.count = 0
        self.tag = ""

    def info(self, _req: Any) -> None:
        r = Response()
        r.info.wants = self.wants
        r.info.provides = self.provides
        r.info.options["tag"].valueTypes.append(STRING)
        r.info.options["scale"].valueTypes.extend([DOUBLE, INT])
        r.info.options["every"].valueTypes.append(DURATION)
        r.info.options["on"].valueTypes.append(BOOL)
        self.agent.write(r)

    def init(self, req: Any) -> None:
        for opt in req.options:
            if opt.name == "tag":
                self.tag = opt.values[0].stringValue
        r = Response()
        r.init.success = True
        self.agent.write(r)

    def snapshot(self, _req: Any) -> None:
        r = Response()
        r.snapshot.snapshot = str(self.count).encode()
        self.agent.write(r)

    def restore(self, req: Any) -> None:
        self.count = int(req.snapshot.decode() or 0)
        r = Response()
        r.restore.success = True
        self.agent.write(r)

    def point(self, p: Any) -> None:
        self.count += 1
        r = Response()
        r.point.CopyFrom(p)
        r.point.fieldsInt["seen"] = self.count
        if self.tag:
            r.point.tags["udf"] = self.tag
        self.agent.write(r)

    def begin(self, _b: Any) -> None:
        raise ValueError("mirror wants a stream")

    end = begin


class BatchStats(Mirror):
    """Batch in, stream out: one point per batch, the mean of field ``value`` and the count."""

    wants, provides = BATCH, STREAM

    def begin(self, b: Any) -> None:
        self.values: list[float] = []
        self.begun = b

    def point(self, p: Any) -> None:
        self.values.append(p.fieldsDouble["value"])

    def end(self, e: Any) -> None:
        r = Response()
        pt = r.point
        pt.time = e.tmax
        pt.name = e.name
        pt.group = e.group
        pt.dimensions.extend(sorted(e.tags))
        pt.tags.update(e.tags)
        pt.fieldsDouble["mean"] = sum(self.values) / len(self.values) if self.values else 0.0
        pt.fieldsInt["count"] = len(self.values)
        self.agent.write(r)


class BatchMirror(Mirror):
    """Batch in, batch out: every batch back as it came, each point with ``seen`` added (the
    mirror's ``point``)."""

    wants, provides = BATCH, BATCH

    def begin(self, b: Any) -> None:
        r = Response()
        r.begin.CopyFrom(b)
        self.agent.write(r)

    def end(self, e: Any) -> None:
        r = Response()
        r.end.CopyFrom(e)
        self.agent.write(r)


class Crasher(Mirror):
    """Exits after its third point."""

    def point(self, p: Any) -> None:
        super().point(p)
        if self.count >= 3:
            self.agent.out.flush()
            sys.stderr.write("crasher: giving up\n")
            sys.stderr.flush()
            os._exit(3)


class Hanger(Mirror):
    """Stops answering (keepalives included) after its second point."""

    def point(self, p: Any) -> None:
        super().point(p)
        if self.count >= 2:
            self.agent.out.flush()
            time.sleep(3600)


class Garbage(Mirror):
    """Answers its second point with bytes that are no Response."""

    def point(self, p: Any) -> None:
        super().point(p)
        if self.count >= 2:
            self.agent.out.write(b"\x05\xff\xff\xff\xff\xff")
            self.agent.out.flush()


class Failing(Mirror):
    """Answers its first point with an ErrorResponse."""

    def point(self, p: Any) -> None:
        r = Response()
        r.error.error = "cannot handle points today"
        self.agent.write(r, flush=True)


class BadInit(Mirror):
    def init(self, req: Any) -> None:
        r = Response()
        r.init.success = False
        r.init.error = "option tag is required"
        self.agent.write(r)


AGENTS = {
    "mirror": Mirror,
    "batch": BatchStats,
    "bmirror": BatchMirror,
    "crash": Crasher,
    "hang": Hanger,
    "garbage": Garbage,
    "error": Failing,
    "badinit": BadInit,
}


def serve(kind: str, path: str) -> None:
    """A socket agent: one handler per connection, each on its own thread."""
    import threading

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)

    def one(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as inp, conn.makefile("wb") as out:
            Agent(inp, out, AGENTS[kind]()).run()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) > 2:
        serve(sys.argv[1], sys.argv[2])
    else:
        Agent(sys.stdin.buffer, sys.stdout.buffer, AGENTS[sys.argv[1]]()).run()
