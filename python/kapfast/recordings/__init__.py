"""Recording files: stream (``.srpl``) and batch (``.brpl``) recordings, read and written.

Readers accept plain, gzipped and (batch) zip-archived files, detected by their first bytes;
writers produce the gzipped forms Kapacitor stores. Every read error is a
:class:`RecordingError` naming the file, line and record.
"""

from kapfast.recordings.batch import (
    BatchRecordingWriter,
    FieldValue,
    RecordedBatch,
    RecordedPoint,
    batch_recording_sources,
    batch_to_json,
    read_batch_recording,
)
from kapfast.recordings.errors import RecordingError
from kapfast.recordings.stream import (
    PRECISION_NS,
    StreamChunk,
    StreamRecord,
    StreamRecordingWriter,
    detect_stream_precision,
    read_stream_recording,
    split_timestamp,
    stream_chunks,
)
from kapfast.recordings.timefmt import format_rfc3339_ns, parse_rfc3339_ns

__all__ = [
    "PRECISION_NS",
    "BatchRecordingWriter",
    "FieldValue",
    "RecordedBatch",
    "RecordedPoint",
    "RecordingError",
    "StreamChunk",
    "StreamRecord",
    "StreamRecordingWriter",
    "batch_recording_sources",
    "batch_to_json",
    "detect_stream_precision",
    "format_rfc3339_ns",
    "parse_rfc3339_ns",
    "read_batch_recording",
    "read_stream_recording",
    "split_timestamp",
    "stream_chunks",
]
