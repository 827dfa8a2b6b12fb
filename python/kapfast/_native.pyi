"""Type stubs of the Rust extension ``kapfast._native`` (checked by ``make stubtest``).

Every class is ``@final``: pyo3 classes cannot be subclassed from Python.
Keep ``__all__`` in step with what ``rust/src/py/*.rs`` registers.
"""

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias, final

__all__ = [
    "LINEPROTO_INDEX_MAX_BYTES",
    "LINEPROTO_PARALLEL_MIN_BYTES",
    "ClosedWindows",
    "ColumnView",
    "EvalResult",
    "EvalState",
    "GroupIndex",
    "GroupObjects",
    "InfluxQLTransform",
    "PointBatch",
    "Program",
    "SeriesIndex",
    "StateBarrierPeriods",
    "StateChangeDetect",
    "StateDerivative",
    "StateJoin",
    "StateRun",
    "StateTimeSets",
    "StateTransforms",
    "StateWindows",
    "UdfDecoder",
    "__version__",
    "batch_default",
    "batch_delete",
    "batch_field_to_tag",
    "batch_group_codes",
    "batch_group_ids",
    "batch_group_tags",
    "batch_keep_fields",
    "batch_measurement_codes",
    "batch_override",
    "batch_renamed",
    "batch_retime",
    "batch_select_fields",
    "batch_sort_by_time",
    "batch_split",
    "batch_with_field",
    "batch_with_fields_of",
    "batch_with_tags_of",
    "combine_points",
    "flatten_points",
    "influxql_reduce",
    "influxql_shape",
    "influxql_transform",
    "join_batches",
    "parse_line_protocol",
    "reduce_windows",
    "rows_groups",
    "sample_mask",
    "time_sets",
    "udf_encode_batch",
    "udf_encode_info",
    "udf_encode_init",
    "udf_encode_keepalive",
    "udf_encode_restore",
    "udf_encode_snapshot",
    "udf_encode_stream",
]

__version__: str

# --- batch -------------------------------------------------------------------------------------

_FieldValue: TypeAlias = float | int | str | bool
_Row: TypeAlias = tuple[str, Mapping[str, str], Mapping[str, _FieldValue], int]

@final
class ColumnView:
    """A read-only zero-copy buffer over one column of a PointBatch (``numpy.asarray(view)``,
    ``memoryview(view)``); it keeps the batch alive."""

    def __len__(self) -> int: ...
    @property
    def format(self) -> str: ...
    @property
    def name(self) -> str: ...
    def to_list(self) -> list[Any]: ...
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
        def __release_buffer__(self, buffer: memoryview, /) -> None: ...

@final
class PointBatch:
    """A columnar batch of points owned by Rust (immutable)."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __len__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def series(self) -> list[str]: ...
    def measurements(self) -> list[str]: ...
    def tag_keys(self) -> list[str]: ...
    def field_names(self) -> list[str]: ...
    def field_kind(self, name: str) -> str: ...
    def field_kinds(self) -> dict[str, str]: ...
    def time(self) -> ColumnView: ...
    def field(self, name: str) -> ColumnView: ...
    def field_valid(self, name: str) -> ColumnView: ...
    def field_values(self, name: str) -> list[_FieldValue | None]: ...
    def tag(self, key: str) -> tuple[ColumnView, list[str]]: ...
    def tag_values(self, key: str) -> list[str | None]: ...
    def rows(self) -> list[tuple[str, dict[str, str], dict[str, _FieldValue], int]]: ...
    @classmethod
    def from_rows(cls, rows: Iterable[_Row], kinds: Mapping[str, str] | None = None) -> PointBatch: ...
    def filter(self, mask: object) -> PointBatch: ...
    def take(self, indices: object) -> PointBatch: ...
    @classmethod
    def concat(cls, batches: Sequence[PointBatch]) -> PointBatch: ...
    def to_line_protocol(self, precision: str = "ns") -> bytes: ...
    # server helpers
    def measurement_counts(self) -> list[tuple[str, int]]: ...
    def with_measurements(self, names: Sequence[str]) -> PointBatch: ...

# batch operations of the task engine (rust/src/py/ops.rs): codes are little-endian u32 bytes

def batch_measurement_codes(batch: PointBatch) -> tuple[bytes, list[str]]: ...
def batch_split(batch: PointBatch, codes: bytes, n_groups: int) -> list[PointBatch]: ...
def batch_select_fields(batch: PointBatch, keep: list[str]) -> PointBatch: ...
def batch_group_codes(
    batch: PointBatch,
    dims: list[str],
    star: bool = False,
    exclude: list[str] = ...,
    by_name: bool = False,
) -> tuple[bytes, list[tuple[str, list[tuple[str, str]]]]]: ...

@final
class GroupIndex:
    def __new__(
        cls,
        dims: Sequence[str],
        star: bool,
        exclude: Sequence[str],
        by_name: bool,
        make: Callable[[str, list[tuple[str, str]]], Any],
    ) -> GroupIndex: ...
    def codes(self, batch: PointBatch) -> tuple[bytes, list[Any]]: ...
    def __len__(self) -> int: ...

@final
class GroupObjects:
    def __new__(cls) -> GroupObjects: ...
    def codes(self, groups: list[Any], codes: _Groups) -> bytes | None: ...
    def learn(self, groups: list[Any], ints: Sequence[int]) -> None: ...
    def forget(self, i: int) -> None: ...

def rows_groups(codes: _Groups, rows: bytes, groups: list[Any]) -> tuple[bytes, list[Any]]: ...
def batch_group_ids(
    batch: PointBatch,
    dims: list[str],
    star: bool = False,
    exclude: list[str] = ...,
    by_name: bool = False,
) -> tuple[bytes, list[str], list[int]]: ...
def batch_group_tags(
    batch: PointBatch,
    rows: Sequence[int],
    dims: list[str],
    star: bool = False,
    exclude: list[str] = ...,
) -> list[list[tuple[str, str]]]: ...

# whole-chunk edits of the stateless nodes (default, delete, shift, sample, eval.tags, outputs)

def batch_retime(batch: PointBatch, shift: int = 0, truncate: int = 0, round: int = 0) -> PointBatch: ...
def batch_default(
    batch: PointBatch, fields: Sequence[tuple[str, _FieldValue]], tags: Sequence[tuple[str, str]]
) -> tuple[PointBatch, int, int]: ...
def batch_delete(
    batch: PointBatch, fields: Sequence[str], tags: Sequence[str]
) -> tuple[PointBatch, int, int]: ...
def batch_field_to_tag(batch: PointBatch, field: str, tag: str) -> PointBatch: ...
def batch_with_tags_of(base: PointBatch, src: PointBatch) -> PointBatch: ...
def batch_with_fields_of(base: PointBatch, src: PointBatch, names: Sequence[str]) -> PointBatch: ...
def batch_keep_fields(batch: PointBatch, keep: Sequence[str]) -> PointBatch: ...
def batch_override(
    batch: PointBatch, measurement: str = "", tags: Sequence[tuple[str, str]] = ...
) -> PointBatch: ...
def batch_sort_by_time(batch: PointBatch) -> PointBatch: ...
def sample_mask(codes: bytes, counts: Sequence[int], every: int) -> tuple[bytes, list[int]]: ...

# --- lineproto ---------------------------------------------------------------------------------

LINEPROTO_INDEX_MAX_BYTES: int
LINEPROTO_PARALLEL_MIN_BYTES: int

def parse_line_protocol(
    data: bytes, precision: str, now_ns: int, threads: int = 0, index: SeriesIndex | None = None
) -> tuple[PointBatch, list[tuple[int, int, str]]]: ...

@final
class SeriesIndex:
    """Series keys kept across bodies: parse_line_protocol(index=) costs one hash probe per known series."""

    def __new__(cls, max_bytes: int = ...) -> SeriesIndex: ...
    def __len__(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def resets(self) -> int: ...

# --- eval --------------------------------------------------------------------------------------

@final
class EvalState:
    """State of the stateful functions (sigma, count, spread, rand) per group."""

    def __new__(cls) -> EvalState: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

@final
class EvalResult:
    """Values of a lambda over a batch: ``values[i]`` is meaningful where ``valid[i]``."""

    @property
    def kind(self) -> str: ...
    @property
    def values(self) -> memoryview | list[str | None]: ...
    @property
    def valid(self) -> memoryview: ...
    @property
    def error_count(self) -> int: ...
    @property
    def first_error(self) -> str | None: ...
    def assign(self, batch: PointBatch, name: str) -> PointBatch: ...
    def __len__(self) -> int: ...

@final
class Program:
    """A lambda expression compiled once from its AST (docs/lambda_ast.md)."""

    def __new__(cls, ast: Sequence[object]) -> Program: ...
    @property
    def is_stateful(self) -> bool: ...
    @property
    def references(self) -> list[str]: ...
    @property
    def result_kind(self) -> str | None: ...
    def eval(
        self,
        batch: PointBatch,
        *,
        state: EvalState | None = None,
        groups: Sequence[int] | memoryview | None = None,
        now_ns: int = 0,
    ) -> EvalResult: ...
    def mask(
        self,
        batch: PointBatch,
        *,
        state: EvalState | None = None,
        groups: Sequence[int] | memoryview | None = None,
        now_ns: int = 0,
    ) -> tuple[memoryview, int, str | None]: ...
    def filter(
        self,
        batch: PointBatch,
        *,
        state: EvalState | None = None,
        groups: Sequence[int] | memoryview | None = None,
        now_ns: int = 0,
    ) -> tuple[PointBatch, int, str | None]: ...

def batch_with_field(batch: PointBatch, name: str, result: EvalResult) -> PointBatch: ...

# --- influxql -----------------------------------------------------------------------------------

# A literal argument of an InfluxQL call (durations are int nanoseconds), and a field value.
_InfluxQLArg: TypeAlias = int | float | str | bool
_InfluxQLValue: TypeAlias = int | float | str | bool
# Row indices may also come as any buffer of 32/64-bit integers (array('I'), numpy, ColumnView).
_RowBuffer: TypeAlias = object

def influxql_reduce(
    batch: PointBatch,
    func: str,
    field: str,
    args: tuple[_InfluxQLArg, ...] | None = None,
    rows: Sequence[int] | _RowBuffer | None = None,
) -> list[tuple[int | None, int | None, _InfluxQLValue]]: ...
def influxql_transform(
    batch: PointBatch,
    func: str,
    field: str,
    args: tuple[_InfluxQLArg, ...] | None = None,
    rows: Sequence[int] | _RowBuffer | None = None,
) -> list[tuple[int, _InfluxQLValue]]: ...
def influxql_shape(func: str) -> Literal["aggregate", "selector", "multi", "transform"]: ...

@final
class InfluxQLTransform:
    def __new__(cls, func: str, args: tuple[_InfluxQLArg, ...] | None = None) -> InfluxQLTransform: ...
    def feed(
        self, batch: PointBatch, field: str, rows: Sequence[int] | _RowBuffer | None = None
    ) -> list[tuple[int, _InfluxQLValue]]: ...
    def feed_batch(
        self, batch: PointBatch, field: str, as_name: str, rows: Sequence[int] | _RowBuffer | None = None
    ) -> tuple[PointBatch, bytes]: ...
    @property
    def func(self) -> str: ...
    @property
    def errors(self) -> int: ...

@final
class StateTransforms:
    def __new__(
        cls, func: str, field: str, as_name: str, args: tuple[_InfluxQLArg, ...] | None = None
    ) -> StateTransforms: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> tuple[PointBatch, bytes, int, int, str | None]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

# --- stateops (rust/src/py/stateops.rs) ---------------------------------------------------------
# Per-group state of the stateful nodes, fed whole chunks. ``groups``: one stable group int per
# row (a uint32 buffer or a sequence); returned row lists are little-endian u32 bytes.

_Groups: TypeAlias = Sequence[int] | object
_Bools: TypeAlias = Sequence[bool] | object

@final
class StateDerivative:
    def __new__(
        cls, field: str, as_: str, unit: int = 1_000_000_000, non_negative: bool = False
    ) -> StateDerivative: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> tuple[PointBatch, bytes, int]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

@final
class StateChangeDetect:
    def __new__(cls, fields: list[str]) -> StateChangeDetect: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> tuple[PointBatch, bytes, int, str | None]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

@final
class StateRun:
    def __new__(cls, kind: str, as_: str, unit: int = 1_000_000_000) -> StateRun: ...
    def feed(
        self, batch: PointBatch, groups: _Groups, tests: _Bools, valid: _Bools
    ) -> tuple[PointBatch, bytes]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

@final
class StateWindows:
    def __new__(
        cls,
        period: int = 0,
        every: int = 0,
        align: bool = False,
        fill: bool = False,
        period_count: int = 0,
        every_count: int = 0,
    ) -> StateWindows: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> list[tuple[int, str, int, PointBatch, int]]: ...
    def feed_closed(self, batch: PointBatch, groups: _Groups) -> ClosedWindows: ...
    def barrier(self, group: int, time: int) -> tuple[int, str, int, PointBatch, int] | None: ...
    def set_tags(self, group: int, tags: Sequence[tuple[str, str]]) -> None: ...
    def narrow(self, keep: Sequence[str] | None = None) -> None: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

@final
class ClosedWindows:
    def __len__(self) -> int: ...
    def to_list(self) -> list[tuple[int, str, int, PointBatch, int]]: ...
    def reduce(
        self,
        func: str,
        field: str,
        as_: str,
        args: tuple[_InfluxQLArg, ...] | None = None,
        point_times: bool = False,
    ) -> tuple[PointBatch, bytes, list[int], list[tuple[int, str]]]: ...

def reduce_windows(
    func: str,
    field: str,
    as_: str,
    windows: Sequence[tuple[str, Sequence[tuple[str, str]], int, PointBatch]],
    args: tuple[_InfluxQLArg, ...] | None = None,
    point_times: bool = False,
) -> tuple[PointBatch, bytes, list[tuple[int, str]]]: ...

_Fill: TypeAlias = str | int | float | None

@final
class StateJoin:
    def __new__(
        cls,
        prefixes: list[str],
        delimiter: str = ...,
        tolerance: int = 0,
        fill: _Fill = None,
        stream_name: str = ...,
        on: bool = False,
        delete_all: bool = False,
    ) -> StateJoin: ...
    def feed(
        self,
        src: int,
        batch: PointBatch,
        codes: _Groups,
        groups: Sequence[tuple[int, int, bool, Sequence[tuple[str, str]]]],
    ) -> tuple[PointBatch, bytes]: ...
    def barrier(self, src: int, group: int, time: int) -> tuple[PointBatch, bytes]: ...
    def delete(self, src: int, group: int) -> None: ...
    def finish(self) -> tuple[PointBatch, bytes]: ...
    def __len__(self) -> int: ...

def join_batches(
    prefixes: list[str],
    batches: Sequence[PointBatch | None],
    name: str,
    tags: Sequence[tuple[str, str]],
    delimiter: str = ...,
    tolerance: int = 0,
    fill: _Fill = None,
) -> PointBatch: ...

@final
class StateTimeSets:
    def __new__(
        cls, tolerance: int = 0, any_change: bool = True, round_times: bool = False
    ) -> StateTimeSets: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> list[tuple[int, int, str, PointBatch, int]]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

def time_sets(
    batch: PointBatch, tolerance: int = 0, any_change: bool = True, round_times: bool = False
) -> list[tuple[int, str, PointBatch]]: ...
def flatten_points(
    sets: Sequence[tuple[PointBatch, str, Sequence[tuple[str, str]], int]],
    on: list[str],
    delimiter: str = ...,
    drop: bool = False,
) -> tuple[PointBatch, int]: ...
def combine_points(
    set: PointBatch,
    matches: Sequence[object],
    names: list[str],
    name: str,
    dims: list[str],
    delimiter: str = ...,
    tolerance: int = 0,
) -> PointBatch: ...
def batch_renamed(batch: PointBatch, name: str) -> PointBatch: ...

@final
class StateBarrierPeriods:
    def __new__(cls, period: int) -> StateBarrierPeriods: ...
    def feed(self, batch: PointBatch, groups: _Groups) -> list[tuple[int, int, int]]: ...
    def reset(self, group: int | None = None) -> None: ...
    def __len__(self) -> int: ...

# --- the UDF wire protocol (rust/src/py/udf.rs) ---------------------------------------------------

def udf_encode_stream(
    batch: PointBatch,
    codes: _Groups,
    groups: Sequence[tuple[str, Sequence[str], bool]],
    db: str,
    rp: str,
) -> bytes: ...
def udf_encode_batch(
    name: str, group: str, tags: Mapping[str, str], by_name: bool, tmax: int, points: PointBatch
) -> bytes: ...
def udf_encode_info() -> bytes: ...
def udf_encode_init(
    options: Sequence[tuple[str, Sequence[tuple[int, object]]]], task_id: str, node_id: str
) -> bytes: ...
def udf_encode_keepalive(time: int) -> bytes: ...
def udf_encode_snapshot() -> bytes: ...
def udf_encode_restore(snapshot: bytes) -> bytes: ...

#: ``("points", batch, codes <u4 bytes, [(group id, [(dim, value)], by name)], db, rp)``,
#: ``("batch", name, group id, tmax, [(tag, value)], by name, points)``, ``("info", wants,
#: provides, {option: [value types]})``, ``("init", ok, error)``, ``("keepalive", time)``,
#: ``("snapshot", bytes)``, ``("restore", ok, error)``, ``("error", message)``,
#: ``("skipped", count, reason)``
_UdfEvent: TypeAlias = tuple[Any, ...]

@final
class UdfDecoder:
    def __new__(cls) -> UdfDecoder: ...
    def feed(self, data: bytes) -> list[_UdfEvent]: ...
    @property
    def pending(self) -> int: ...
