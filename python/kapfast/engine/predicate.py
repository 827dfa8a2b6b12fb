"""A lambda used as a row filter over whole batches: the Rust evaluator (``kapfast.lambdas``) when
it is installed, else the row interpreter of :mod:`kapfast.engine.lambda_py`."""

from __future__ import annotations

from typing import Any

from kapfast._native import PointBatch
from kapfast.engine.lambda_py import GroupState, PyLambda
from kapfast.engine.rows import batch_rows
from kapfast.errors import EvalError


class BatchPredicate:
    """``filter(batch, group_ids) -> (kept batch, error count, first error)``."""

    def __init__(self, ast: Any) -> None:
        self.ast = ast
        self.program: Any = None
        self.state: Any = None
        try:
            from kapfast import lambdas  # type: ignore[attr-defined,unused-ignore]

            self.program = lambdas.Program(ast)
            self.state = lambdas.EvalState()
        except (ImportError, AttributeError):
            self.program = None
        self.py = PyLambda(ast)
        self.py_states: dict[str, GroupState] = {}
        #: group id -> the int the Rust state knows the group by (stable across chunks)
        self.group_ints: dict[str, int] = {}

    @property
    def rust(self) -> bool:
        return self.program is not None

    def stable_codes(self, group_ids: list[str], codes: Any) -> Any:
        """Chunk-local group codes → codes that name the same group in every chunk."""
        import numpy as np

        ints = self.group_ints
        table = np.array([ints.setdefault(g, len(ints)) for g in group_ids], dtype=np.uint32)
        return table[np.asarray(codes, dtype=np.intp)]

    def forget(self, group_id: str) -> None:
        self.py_states.pop(group_id, None)
        i = self.group_ints.get(group_id)
        if i is not None and self.state is not None:
            self.state.reset(i)

    def filter(
        self, batch: PointBatch, group_ids: list[str] | None = None, codes: Any = None, now_ns: int = 0
    ) -> tuple[PointBatch, int, str | None]:
        if self.program is not None:
            if group_ids is not None and codes is not None:
                codes = self.stable_codes(group_ids, codes)
            return self._filter_rust(batch, codes, now_ns)
        mask = []
        errors = 0
        first: str | None = None
        for i, row in enumerate(batch_rows(batch)):
            gid = group_ids[int(codes[i])] if group_ids is not None and codes is not None else ""
            st = self.py_states.get(gid)
            if st is None:
                st = self.py_states[gid] = GroupState()
            try:
                v = self.py.eval(*row, st)
                if not isinstance(v, bool):
                    raise EvalError("expression did not evaluate to a boolean")
                mask.append(v)
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                mask.append(False)
        if all(mask):
            return batch, errors, first
        return batch.filter(mask), errors, first

    def mask(
        self, batch: PointBatch, group_ids: list[str], codes: Any, now_ns: int = 0
    ) -> tuple[Any, int, str | None]:
        """(bool mask or None when every row passes, error count, first error) — Rust only."""
        import numpy as np

        stable = self.stable_codes(group_ids, codes)
        raw, errors, first = self.program.mask(batch, state=self.state, groups=stable, now_ns=now_ns)
        m = np.asarray(raw).astype(bool, copy=False)
        return (None if m.all() else m), int(errors), first

    def _filter_rust(self, batch: PointBatch, codes: Any, now_ns: int) -> tuple[PointBatch, int, str | None]:
        kwargs: dict[str, Any] = {"state": self.state, "now_ns": now_ns}
        if codes is not None:
            kwargs["groups"] = codes
        kept, errors, first = self.program.filter(batch, **kwargs)
        return kept, int(errors), first
