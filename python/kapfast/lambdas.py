"""Lambda expressions compiled once and evaluated in Rust over whole batches.

Every ``where``, ``eval``, alert level and many properties of a TICKscript take a lambda
expression. The TICKscript compiler turns each one into the plain AST of ``docs/lambda_ast.md``
(nested tuples or lists); :class:`Program` compiles that AST once — types checked where they are
known, constants folded, regexes compiled — and then evaluates it over a whole
:class:`~kapfast.batch.PointBatch` at a time, with the GIL released.

Semantics are Kapacitor's (``tick/stateful``): no implicit int/float mixing in arithmetic,
comparisons may mix them, fields shadow nothing (a name that is both a field and a tag of a row is
an error), a missing field or tag is an error except inside ``isPresent()``. Rows whose
expression fails are not lost silently: every evaluation reports ``error_count`` and the text of
the first failure, and the caller skips those rows. Kapfast improves on Kapacitor where it
crashes: integer division by zero is an error for that row.

Deliberate differences from Kapacitor, each documented in ``rust/src/eval.rs``:

* ``AND``/``OR`` short-circuit before looking at the right side, so ``TRUE OR "missing"`` is
  true (Kapacitor type-checks both sides first and fails the row);
* ``if(cond, a, b)`` evaluates only the branch it returns, so ``if(isPresent("x"), "x", 0.0)``
  works on rows without "x" (Kapacitor evaluates both branches and fails those rows);
* unsigned fields are read as ints (Kapacitor 1.x rejects them); above ``2**63-1`` the row fails;
* time functions read UTC; ``now()`` is the ``now_ns`` the caller passes (a :mod:`kapfast.clock`
  time), never the wall clock.

Example::

    from kapfast.lambdas import EvalState, Program

    where = Program(("binary", "<", ("ref", "usage_idle"), ("int", 10)))
    mask, errors, first_error = where.mask(batch)
    kept, errors, first_error = where.filter(batch)

    scaled = Program(("binary", "*", ("ref", "usage_user"), ("float", 2.0)))
    result = scaled.eval(batch)            # result.values: memoryview of float64
    batch2 = result.assign(batch, "scaled")  # the result as a field

    counter = Program(("call", "count", []))
    state = EvalState()                     # one per expression instance (per node)
    counter.eval(batch, state=state, groups=group_ids)  # counts per group
"""

from __future__ import annotations

from collections.abc import Sequence

from kapfast._native import EvalResult, EvalState, Program, batch_with_field

__all__ = [
    "EvalResult",
    "EvalState",
    "Program",
    "batch_with_field",
    "compile_lambda",
    "regex_error",
]


def compile_lambda(ast: Sequence[object]) -> Program:
    """Compile a lambda AST (``docs/lambda_ast.md``) into a :class:`Program`.

    Raises :class:`kapfast.errors.EvalError` for a malformed AST, an unknown function, a wrong
    number of arguments or types that can never work (``1 + 2.0``, ``abs('x')``).
    """
    return Program(ast)


def regex_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a regex lambdas can run (the engine's own syntax, RE2 as Go's), or
    None: scripts and vars are checked with it when defined, not when their task starts."""
    try:
        Program(("binary", "=~", ("string", ""), ("regex", pattern)))
    except Exception as exc:
        # the regex crate's message draws the pattern with a caret; its last line says why
        return str(exc).strip().splitlines()[-1].removeprefix("error: ")
    return None
