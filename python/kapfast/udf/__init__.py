"""User Defined Functions: Kapacitor's UDF agents (process or unix socket) run unchanged.

``kapfast.tick.udfs`` (what an agent declares, define-time checks), ``agent`` (one connection, bounded waits),
``service`` (the configured UDFs). The node is ``kapfast.engine.nodes.udf``; the wire codec is
Rust, behind ``kapfast.udf.wire``."""

from kapfast.tick.udfs import UDFInfo
from kapfast.udf.service import UDFService

__all__ = ["UDFInfo", "UDFService"]
