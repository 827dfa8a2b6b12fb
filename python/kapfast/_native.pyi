"""Type stubs of the Rust extension ``kapfast._native`` (checked by ``make stubtest``).

Every class is ``@final``: pyo3 classes cannot be subclassed from Python.
Keep ``__all__`` in step with what ``rust/src/py/*.rs`` registers.
"""

from collections.abc import Sequence
from typing import final

__all__ = [
    "EvalResult",
    "EvalState",
    "PointBatch",
    "Program",
    "__version__",
    "batch_with_field",
]

__version__: str

# --- batch -------------------------------------------------------------------------------------

@final
class PointBatch:
    def __len__(self) -> int: ...

# --- lineproto ---------------------------------------------------------------------------------

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
