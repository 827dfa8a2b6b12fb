"""The UDF wire codec (Rust: ``rust/src/udf``): Kapacitor's udf.proto messages framed as its
agents expect, encoded and decoded without a Python object per point. The one Python face of
the extension's ``udf_*`` functions and :class:`UdfDecoder` (``kapfast._native`` is private)."""

from __future__ import annotations

from kapfast._native import (
    UdfDecoder,
    udf_encode_batch,
    udf_encode_info,
    udf_encode_init,
    udf_encode_keepalive,
    udf_encode_restore,
    udf_encode_snapshot,
    udf_encode_stream,
)

__all__ = [
    "UdfDecoder",
    "udf_encode_batch",
    "udf_encode_info",
    "udf_encode_init",
    "udf_encode_keepalive",
    "udf_encode_restore",
    "udf_encode_snapshot",
    "udf_encode_stream",
]
