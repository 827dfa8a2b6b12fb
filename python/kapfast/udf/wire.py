"""The UDF wire codec (Rust: ``rust/src/udf``): Kapacitor's udf.proto messages framed as its
agents expect, encoded and decoded without a Python object per point. The one Python face of
the extension's ``udf_*`` functions and :class:`UdfDecoder` (``kapfast._native`` is private)."""

from __future__ import annotations

from kapfast._native import UdfDecoder as UdfDecoder
from kapfast._native import udf_encode_batch as udf_encode_batch
from kapfast._native import udf_encode_info as udf_encode_info
from kapfast._native import udf_encode_init as udf_encode_init
from kapfast._native import udf_encode_keepalive as udf_encode_keepalive
from kapfast._native import udf_encode_restore as udf_encode_restore
from kapfast._native import udf_encode_snapshot as udf_encode_snapshot
from kapfast._native import udf_encode_stream as udf_encode_stream
