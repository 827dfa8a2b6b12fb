"""One request never holds up the others: a big TICKscript compiles on an executor thread while
``/ping``, writes and the rest of the API keep answering."""

from __future__ import annotations

import threading

from kapfastd_proc import Answer, Kapfastd

# ~70 KB, about a second of compiling: long enough that many pings fit in it
BIG = 'dbrp "telegraf"."autogen"\n' + "".join(f"var v{i} = {i} * 2 + 1\n" for i in range(3000))
BIG += "stream|from().measurement('cpu')|log()\n"


def _in_background(fn: object) -> tuple[threading.Thread, dict[str, Answer]]:
    out: dict[str, Answer] = {}

    def run() -> None:
        out["answer"] = fn()  # type: ignore[operator]

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_ping_writes_and_api_answer_while_a_big_script_compiles(kapfastd: Kapfastd) -> None:
    for method, path, body in (
        ("POST", "/tasks", {"id": "big", "script": BIG, "status": "enabled"}),
        ("PATCH", "/tasks/big", {"script": BIG.replace("|log()", "|log().level('WARN')")}),
        ("POST", "/templates", {"id": "bigt", "script": BIG}),
    ):
        thread, out = _in_background(lambda m=method, p=path, b=body: kapfastd.api(m, p, b))
        answered = []
        while thread.is_alive():
            ping = kapfastd.request("GET", "/kapacitor/v1/ping")
            write = kapfastd.write("cpu value=1\n")
            listing = kapfastd.api("GET", "/tasks?pattern=nothing*")
            if thread.is_alive():  # each of these was answered while the define was in flight
                answered.append((ping.status, write.status, listing.status))
        thread.join()
        assert out["answer"].status == 200, out["answer"]
        # with the compile on the event loop, nothing is answered until the define is
        assert len(answered) >= 5, (path, answered)
        assert set(answered) == {(204, 204, 200)}


def test_definitions_happen_one_at_a_time(kapfastd: Kapfastd) -> None:
    """Concurrent defines of one id: exactly one wins, the others are told it exists."""
    threads = [
        _in_background(lambda: kapfastd.api("POST", "/tasks", {"id": "same", "script": BIG}))
        for _ in range(3)
    ]
    statuses = []
    for thread, out in threads:
        thread.join()
        statuses.append(out["answer"].status)
    assert sorted(statuses) == [200, 400, 400]
    assert kapfastd.api("GET", "/tasks/same?script-format=raw").json()["script"] == BIG
