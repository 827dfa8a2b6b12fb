"""The formatter against Kapacitor's own formatting cases (tick/fmt_test.go) and idempotence."""

from __future__ import annotations

import pytest

from kapfast.tick import format_script

CASES = [
    ("var x = 1", "var x = 1\n"),
    ("var x=1", "var x = 1\n"),
    ("var x=1.0", "var x = 1.0\n"),
    ("var x=01", "var x = 01\n"),
    ("var x=0600", "var x = 0600\n"),
    ("var x=1m", "var x = 1m\n"),
    ("var x=60s", "var x = 60s\n"),
    ("var x = 5.", "var x = 5.0\n"),
    ("var x = 1e", None),
    (
        "var x=stream()|window().period(10s).every(10s)",
        "var x = stream()\n    |window()\n        .period(10s)\n        .every(10s)\n",
    ),
    (
        "var x = stream()\n//Window data  \n|window()\n// Period / Every 10s\n.period(10s).every(10s)",
        "var x = stream()\n    // Window data\n    |window()\n        // Period / Every 10s\n"
        "        .period(10s)\n        .every(10s)\n",
    ),
    (
        "var x = stream()\n@udf()\n    .option(\n        // Param 1\n        1,\n        // Param 2\n"
        "        2,\n        // Param 3\n        3,\n        // Param 4\n        4,\n                )\n",
        "var x = stream()\n    @udf()\n        .option(\n            // Param 1\n            1,\n"
        "            // Param 2\n            2,\n            // Param 3\n            3,\n"
        "            // Param 4\n            4\n        )\n",
    ),
    (
        'global(lambda: ("a" + (1)) / (( 4 +"b") * ("c")))',
        'global(lambda: ("a" + 1) / ((4 + "b") * "c"))\n',
    ),
    (
        "global(lambda: (1 + 2 - 3 * 4 / 5) < (sin(6)) AND (TRUE OR FALSE))",
        "global(lambda: (1 + 2 - 3 * 4 / 5) < sin(6) AND (TRUE OR FALSE))\n",
    ),
    (
        "global(lambda: \n(1 + 2 - 3 * 4 / 5) \n< \n(sin(6))\nAND \n(TRUE\nOR (FALSE \nAND TRUE)))",
        "global(lambda: (1 + 2 - 3 * 4 / 5) <\n    sin(6) AND\n    (TRUE OR\n        (FALSE AND\n"
        "            TRUE)))\n",
    ),
    (
        "global(lambda: \n// If this\n// is less than that\n(1 + 2 - 3 * 4 / 5) \n< (sin(6))\nAND \n"
        "// more comments.\n(TRUE OR FALSE), 'arg',)",
        "global(\n    lambda: \n    // If this\n    // is less than that\n    (1 + 2 - 3 * 4 / 5) <\n"
        "    sin(6) AND\n    // more comments.\n    (TRUE OR FALSE),\n    'arg'\n)\n",
    ),
    (
        "// Preserve comments spacing\n\n// Comment block 1\n// still 1\n\n// Comment block 2\n// still 2\n\n"
        "// Preserve per line spacing\n//     indented\n//fix this line\n//\n\n\nvar x = stream\n\t|from()\n"
        "\t\t//.measurement('mem')\n\t\t.measurement('cpu')\n\n// This should be its own comment block\n"
        "x |alert()\n\t\n\n",
        "// Preserve comments spacing\n\n// Comment block 1\n// still 1\n\n// Comment block 2\n// still 2\n\n"
        "// Preserve per line spacing\n//     indented\n// fix this line\n//\nvar x = stream\n    |from()\n"
        "        // .measurement('mem')\n        .measurement('cpu')\n\n"
        "// This should be its own comment block\nx\n    |alert()\n",
    ),
    (
        "// Comment all the things\nvar \nx = \nstream()\n// 1\n|\nudf()\n// 2\n    .option(\n        // 3\n"
        "        1,\n        // 4\n        2.0,\n        // 5\n        3h,\n        // 6\n"
        "        'a',\n    )\n"
        "// 7\n|\neval(\n// 8\nlambda:\na * b + c\n,\n)\n// 9\n|\ngroupBy(\n//10 \n*\n)\n// 11\n",
        "// Comment all the things\nvar x = stream()\n    // 1\n    |udf()\n        // 2\n        .option(\n"
        "            // 3\n            1,\n            // 4\n            2.0,\n            // 5\n"
        "            3h,\n            // 6\n            'a'\n        )\n    // 7\n    |eval(\n"
        "        // 8\n        lambda: a * b + c\n    )\n    // 9\n    |groupBy(\n        // 10\n"
        "        *\n    )\n\n// 11\n\n",
    ),
    (
        "var max = s\n    |max('top')\nvar min = s\n    |min('top')\nmax|join(min)\n"
        "        .as('max', 'min')\n"
        "    // calculate the difference\n"
        '|eval(lambda: "max.max" - "min.min", lambda: "max.max")\n        .as(\'gap\', \'topFirst\')\n',
        "var max = s\n    |max('top')\n\nvar min = s\n    |min('top')\n\nmax\n    |join(min)\n"
        "        .as('max', 'min')\n    // calculate the difference\n"
        '    |eval(lambda: "max.max" - "min.min", lambda: "max.max")\n'
        "        .as('gap', 'topFirst')\n",
    ),
    ("dbrp \"db\" . \"rp\"\nvar s = '''a 'b'\nc'''", "dbrp \"db\".\"rp\"\n\nvar s = '''a 'b'\nc'''\n"),
    ("var x = 'it\\'s'", "var x = 'it\\'s'\n"),
    (
        'var r = /a\\/b/\nvar y = lambda: "a" =~ /x/ AND !"b"',
        'var r = /a\\/b/\n\nvar y = lambda: "a" =~ /x/ AND !"b"\n',
    ),
    ("var l = ['a','b', c ,*]", "var l = ['a', 'b', c, *]\n"),
    ("var f = 1.50\nvar g = 100000000000000000.0", "var f = 1.5\n\nvar g = 100000000000000000.0\n"),
]


@pytest.mark.parametrize(("script", "expected"), [c for c in CASES if c[1] is not None])
def test_format_matches_kapacitor(script: str, expected: str) -> None:
    got = format_script(script)
    assert got == expected
    assert format_script(got) == got  # idempotent
