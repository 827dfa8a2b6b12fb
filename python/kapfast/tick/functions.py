"""Built-in lambda functions and their arities (Kapacitor's ``tick/stateful/functions.go``).

The compiler checks calls inside lambdas against this table at define time, so a misspelt
function or a wrong number of arguments is reported with its line and column instead of failing
on every point at run time. Argument *types* are checked by the evaluator, which sees the data.
"""

from __future__ import annotations

from types import MappingProxyType

_MATH1 = [
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "gamma",
    "log",
    "log10",
    "log1p",
    "log2",
    "logb",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    "j0",
    "j1",
    "y0",
    "y1",
]
_MATH2 = ["atan2", "hypot", "max", "min", "mod", "pow"]
_STR1 = ["strLength", "strToLower", "strToUpper", "strTrimSpace"]
_STR2 = [
    "strContains",
    "strContainsAny",
    "strHasPrefix",
    "strHasSuffix",
    "strCount",
    "strIndex",
    "strIndexAny",
    "strLastIndex",
    "strLastIndexAny",
    "strTrim",
    "strTrimLeft",
    "strTrimRight",
    "strTrimPrefix",
    "strTrimSuffix",
]
_TIME = ["unixNano", "minute", "hour", "weekday", "day", "month", "year"]

_arity: dict[str, tuple[int, int]] = {}
for _n in _MATH1 + _STR1 + _TIME:
    _arity[_n] = (1, 1)
for _n in _MATH2 + _STR2:
    _arity[_n] = (2, 2)
_arity.update(
    {
        "bool": (1, 1),
        "int": (1, 1),
        "float": (1, 1),
        "string": (1, 1),
        "duration": (1, 2),
        "pow10": (1, 1),
        "jn": (2, 2),
        "yn": (2, 2),
        "strReplace": (4, 4),
        "strSubstring": (3, 3),
        "regexReplace": (3, 3),
        "isPresent": (1, 1),
        "if": (3, 3),
        "now": (0, 0),
        "humanBytes": (1, 1),
        "sigma": (1, 1),
        "count": (0, 0),
        "spread": (1, 1),
        "rand": (0, 1),
    }
)

LAMBDA_FUNCTIONS = MappingProxyType(_arity)
