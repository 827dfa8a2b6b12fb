"""Type stubs of the Rust extension ``kapfast._native`` (checked by ``make stubtest``).

Every class is ``@final``: pyo3 classes cannot be subclassed from Python.
Keep ``__all__`` in step with what ``rust/src/py/*.rs`` registers.
"""

from typing import final

__all__ = ["PointBatch", "__version__"]

__version__: str

# --- batch -------------------------------------------------------------------------------------

@final
class PointBatch:
    def __len__(self) -> int: ...

# --- lineproto ---------------------------------------------------------------------------------

# --- eval --------------------------------------------------------------------------------------

# --- influxql -----------------------------------------------------------------------------------
