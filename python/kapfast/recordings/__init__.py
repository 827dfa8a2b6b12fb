"""Recording files: stream (``.srpl``) and batch (``.brpl``) recordings, read and written.

Readers accept plain, gzipped and (batch) zip-archived files, detected by their first bytes;
writers produce the gzipped forms Kapacitor stores. Every read error is a
:class:`RecordingError` naming the file, line and record.
"""

from kapfast.recordings.batch import (
    BatchArchiveWriter,
    BatchRecordingWriter,
    FieldValue,
    RecordedBatch,
    RecordedPoint,
    batch_recording_sources,
    batch_to_json,
    read_batch_recording,
)
from kapfast.recordings.chunks import (
    RawStreamChunk,
    StreamChunk,
    detect_stream_precision,
    raw_stream_chunks,
    replay_offset_ns,
    stream_chunks,
)
from kapfast.recordings.errors import RecordingError
from kapfast.recordings.stream import StreamRecord, StreamRecordingWriter, read_stream_recording
from kapfast.recordings.timestamps import PRECISION_NS, split_timestamp
from kapfast.timefmt import format_rfc3339_ns, parse_rfc3339_ns

__all__ = [
    "PRECISION_NS",
    "BatchArchiveWriter",
    "BatchRecordingWriter",
    "FieldValue",
    "RawStreamChunk",
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
    "raw_stream_chunks",
    "read_batch_recording",
    "read_stream_recording",
    "replay_offset_ns",
    "split_timestamp",
    "stream_chunks",
]
