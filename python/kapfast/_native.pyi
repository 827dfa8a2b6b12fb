"""Type stubs of the Rust extension ``kapfast._native`` (checked by ``make stubtest``).

Every class is ``@final``: pyo3 classes cannot be subclassed from Python.
Keep ``__all__`` in step with what ``rust/src/py/*.rs`` registers.
"""

from collections.abc import Sequence
from typing import Literal, TypeAlias, final

__all__ = [
    "InfluxQLTransform",
    "PointBatch",
    "__version__",
    "influxql_reduce",
    "influxql_shape",
    "influxql_transform",
]

__version__: str

# --- batch -------------------------------------------------------------------------------------

@final
class PointBatch:
    def __len__(self) -> int: ...

# --- lineproto ---------------------------------------------------------------------------------

# --- eval --------------------------------------------------------------------------------------

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
    @property
    def func(self) -> str: ...
    @property
    def errors(self) -> int: ...
