"""Argument parsing of every client verb: kapacitor's spellings, old guides' spellings, and the exit
statuses and messages of bad usage (no server is contacted: these fail before connecting)."""

from __future__ import annotations

import argparse

import pytest

from kapfast.cli.define_cmd import parse_dbrp
from kapfast.cli.main import VERBS, build_parser, main
from kapfast.cli.session import server_url
from kapfast.client import DBRP

# Nothing listens here: a test that reached the network would fail with exit 3, not pass.
DEAD_URL = "http://127.0.0.1:9"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_every_client_verb_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb in VERBS:
        if verb != "test":  # the engine team's verb, present once merged
            assert verb in sub.choices, verb
    for verb in ("define", "define-template", "enable", "disable", "reload", "delete", "list", "show"):
        assert sub.choices[verb].get_default("_client") is True


def test_define_kapacitor_spelling() -> None:
    a = parse(
        "define", "cpu", "-tick", "cpu.tick", "-type", "stream", "-dbrp", "telegraf.autogen", "-no-reload"
    )
    assert (a.id, a.tick, a.type, a.dbrp, a.no_reload) == (
        "cpu",
        "cpu.tick",
        "stream",
        [DBRP("telegraf", "autogen")],
        True,
    )


def test_define_double_dash_equals_and_repeated_dbrp() -> None:
    a = parse("define", "--tick=cpu.tick", "cpu", "--dbrp", '"db"."rp"', "-dbrp=db2.default")
    assert a.id == "cpu" and a.tick == "cpu.tick"
    assert a.dbrp == [DBRP("db", "rp"), DBRP("db2", "default")]


def test_define_old_name_flag_and_template_aliases() -> None:
    a = parse("define", "-name", "cpu", "-tick", "x.tick", "-dbrp", "db.default")
    assert (a.id, a.name, a.dbrp) == (None, "cpu", [DBRP("db", "default")])
    assert parse("define", "t", "-template", "tpl", "-vars", "v.json").template == "tpl"
    assert parse("define", "t", "-template-id", "tpl").template == "tpl"


@pytest.mark.parametrize(
    ("text", "dbrp"),
    [
        ("db.rp", DBRP("db", "rp")),
        ('"db"."rp"', DBRP("db", "rp")),
        ('"my.db"."my rp"', DBRP("my.db", "my rp")),
        ('"a\\"b".rp', DBRP('a"b', "rp")),
        ("db.rp.with.dots", DBRP("db", "rp.with.dots")),
    ],
)
def test_parse_dbrp(text: str, dbrp: DBRP) -> None:
    assert parse_dbrp(text) == dbrp


@pytest.mark.parametrize("text", ["", "nodot", '"db"rp', "db.", '"unterminated.rp'])
def test_parse_dbrp_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_dbrp(text)


def test_record_stream_spellings() -> None:
    a = parse("record", "stream", "-task", "cpu", "-duration", "1m", "-recording-id", "r1", "-no-wait")
    assert (a.kind, a.task, a.duration, a.recording_id, a.no_wait) == ("stream", "cpu", "1m", "r1", True)
    old = parse("record", "stream", "-name", "cpu", "-duration", "20s")
    assert (old.task, old.duration, old.no_wait) == ("cpu", "20s", False)


def test_record_batch_and_query() -> None:
    b = parse("record", "batch", "-task", "b", "-past", "10h", "--cluster", "c")
    assert (b.kind, b.task, b.past, b.cluster, b.start) == ("batch", "b", "10h", "c", "")
    q = parse("record", "query", "-query", "select 1", "-type", "batch")
    assert (q.kind, q.query, q.type) == ("query", "select 1", "batch")


def test_replay_spellings() -> None:
    a = parse("replay", "-task", "cpu", "-recording", "r1", "-real-clock", "-rec-time", "-replay-id", "x")
    assert (a.task, a.recording, a.real_clock, a.rec_time, a.replay_id) == ("cpu", "r1", True, True, "x")
    old = parse("replay", "-id", "r1", "-name", "cpu", "-fast")
    assert (old.task, old.recording, old.fast, old.real_clock) == ("cpu", "r1", True, False)


def test_list_delete_show_stats_level() -> None:
    assert parse("list", "tasks", "cpu*", "mem*").patterns == ["cpu*", "mem*"]
    d = parse("delete", "topic-handlers", "system", "slack*")
    assert (d.kind, d.ids) == ("topic-handlers", ["system", "slack*"])
    s = parse("show", "-replay", "rp1", "cpu")
    assert (s.replay, s.ids) == ("rp1", ["cpu"])
    assert parse("show-template", "tpl").ids == ["tpl"]
    assert parse("stats", "ingress").category == ["ingress"]
    assert parse("level", "debug").level == "debug"
    assert parse("enable", "a", "b*").ids == ["a", "b*"]
    assert parse("define-template", "tpl", "-tick", "t.tick", "-type", "batch").type == "batch"


def test_global_url_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KAPFAST_URL", "KAPACITOR_URL"):
        monkeypatch.delenv(var, raising=False)
    assert server_url(parse("list", "tasks")) == "http://localhost:9092"
    monkeypatch.setenv("KAPACITOR_URL", "http://k:1")
    assert server_url(parse("list", "tasks")) == "http://k:1"
    monkeypatch.setenv("KAPFAST_URL", "http://f:2")
    assert server_url(parse("list", "tasks")) == "http://f:2"
    assert server_url(parse("-url", "http://u:3", "list", "tasks")) == "http://u:3"
    assert server_url(parse("--url=http://u:4", "list", "tasks")) == "http://u:4"


# ---- bad usage: kapacitor's exit statuses and messages --------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["-url", DEAD_URL, *argv])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ((), 1, "Error: Must pass a command."),
        (("frobnicate",), 1, "Unknown command frobnicate"),
        (("define",), 2, "Must provide a task ID."),
        (("define", "a", "-name", "b"), 2, "two task IDs given"),
        (("define", "x", "-dbrp", "nodot"), 2, "does not contain a '.'"),
        (("define", "x", "-type", "streaming"), 2, "invalid choice"),
        (("define", "x", "-bogus"), 2, "unrecognized arguments: -bogus"),
        (("define", "x", "-t", "a.tick"), 2, "ambiguous option: -t"),
        (("define-template",), 2, "Must provide a template ID."),
        (("enable",), 2, "Must pass at least one task ID"),
        (("disable",), 2, "Must pass at least one task ID"),
        (("reload",), 2, "Must pass at least one task ID"),
        (("delete", "tasks"), 2, "Must pass at least one ID"),
        (("list",), 2, "Must specify 'tasks'"),
        (("show",), 2, "Must specify one task ID"),
        (("show", "a", "b"), 2, "Must specify one task ID"),
        (("show-template",), 2, "Must specify one template ID"),
        (("level",), 2, "Must pass a log level"),
        (("record",), 2, "Must specify stream, batch or query"),
        (("record", "stream", "-task", "x"), 3, "Error: both task and duration are required"),
        (("record", "batch", "-task", "x"), 3, "Error: must set one of start or past flags."),
        (
            ("record", "batch", "-task", "x", "-start", "2015-01-01T00:00:00Z", "-past", "1h"),
            3,
            "cannot set both",
        ),
        (("record", "batch", "-past", "1h"), 3, "Error: task is required"),
        (("record", "query", "-query", "select 1"), 3, "Error: both query and type are required"),
        (("replay", "-task", "x"), 3, "Error: must pass recording ID"),
        (("replay", "-recording", "r"), 3, "Error: must pass task ID"),
        (("stats",), 3, "Error: must provide a stats category"),
        (("delete", "widgets", "x"), 3, "Error: cannot delete 'widgets' did you mean"),
        (("list", "widgets"), 3, "Error: cannot list 'widgets' did you mean"),
        (("stats", "egress"), 3, "Error: unknown stats category 'egress'"),
        (("record", "stream", "-task", "x", "-duration", "1 minute"), 3, "Error: invalid duration"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: int, message: str
) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code, err
    assert message in err
    assert out == ""


def test_usage_errors_print_the_verb_usage(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "enable")
    assert "usage: kapfast enable" in err


def test_unreachable_server_is_a_command_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", "tasks")
    assert code == 3 and out == ""
    assert err.startswith("Error: GET http://127.0.0.1:9/kapacitor/v1/tasks: connection refused")


def test_bad_url_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-url", "localhost:9092", "list", "tasks"]) == 4
    assert "your address must start with http:// or https://" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help"]) == 0
    assert "define-template" in capsys.readouterr().out
    assert main(["help", "define"]) == 0
    assert "-no-reload" in capsys.readouterr().out
    assert main(["help", "nope"]) == 1
    assert "Unknown command nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["record", "stream", "-help"])
    assert exc.value.code == 0
    assert "-duration" in capsys.readouterr().out
