"""Columnar point batches (Rust-owned columns) and the whole-chunk edits the nodes make on them.

This is the Python face of ``rust/src/batch`` and ``rust/src/py/batch.rs``/``ops.rs``: the one
place the rest of kapfast takes :class:`PointBatch` and the ``batch_*`` operations from (the
extension ``kapfast._native`` is private; tests/test_architecture.py keeps it behind a few
facades). Nothing is wrapped: these are the extension's own types and functions, so calling them
costs nothing more than calling the extension.
"""

from __future__ import annotations

from kapfast._native import Codes as Codes
from kapfast._native import ColumnView as ColumnView
from kapfast._native import Group as Group
from kapfast._native import GroupIndex as GroupIndex
from kapfast._native import GroupIntTable as GroupIntTable
from kapfast._native import GroupTable as GroupTable
from kapfast._native import PointBatch as PointBatch
from kapfast._native import StreamChunk as StreamChunk
from kapfast._native import batch_default as batch_default
from kapfast._native import batch_delete as batch_delete
from kapfast._native import batch_field_to_tag as batch_field_to_tag
from kapfast._native import batch_group_codes as batch_group_codes
from kapfast._native import batch_group_ids as batch_group_ids
from kapfast._native import batch_group_tags as batch_group_tags
from kapfast._native import batch_keep_fields as batch_keep_fields
from kapfast._native import batch_measurement_codes as batch_measurement_codes
from kapfast._native import batch_merge_by_time as batch_merge_by_time
from kapfast._native import batch_override as batch_override
from kapfast._native import batch_renamed as batch_renamed
from kapfast._native import batch_retime as batch_retime
from kapfast._native import batch_select_fields as batch_select_fields
from kapfast._native import batch_sort_by_time as batch_sort_by_time
from kapfast._native import batch_split as batch_split
from kapfast._native import batch_with_fields_of as batch_with_fields_of
from kapfast._native import batch_with_tags_of as batch_with_tags_of
from kapfast._native import decode_query_answer as decode_query_answer
from kapfast._native import sample_mask as sample_mask
