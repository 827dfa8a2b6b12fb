"""Columnar point batches (Rust-owned columns) and the whole-chunk edits the nodes make on them.

This is the Python face of ``rust/src/batch`` and ``rust/src/py/batch.rs``/``ops.rs``: the one
place the rest of kapfast takes :class:`PointBatch` and the ``batch_*`` operations from (the
extension ``kapfast._native`` is private; tests/test_architecture.py keeps it behind a few
facades). Nothing is wrapped: these are the extension's own types and functions, so calling them
costs nothing more than calling the extension.
"""

from __future__ import annotations

from kapfast._native import (
    ColumnView,
    GroupIndex,
    GroupObjects,
    PointBatch,
    batch_default,
    batch_delete,
    batch_field_to_tag,
    batch_group_codes,
    batch_group_ids,
    batch_group_tags,
    batch_keep_fields,
    batch_measurement_codes,
    batch_merge_by_time,
    batch_override,
    batch_renamed,
    batch_retime,
    batch_select_fields,
    batch_sort_by_time,
    batch_split,
    batch_with_fields_of,
    batch_with_tags_of,
    rows_groups,
    sample_mask,
)

__all__ = [
    "ColumnView",
    "GroupIndex",
    "GroupObjects",
    "PointBatch",
    "batch_default",
    "batch_delete",
    "batch_field_to_tag",
    "batch_group_codes",
    "batch_group_ids",
    "batch_group_tags",
    "batch_keep_fields",
    "batch_measurement_codes",
    "batch_merge_by_time",
    "batch_override",
    "batch_renamed",
    "batch_retime",
    "batch_select_fields",
    "batch_sort_by_time",
    "batch_split",
    "batch_with_fields_of",
    "batch_with_tags_of",
    "rows_groups",
    "sample_mask",
]
