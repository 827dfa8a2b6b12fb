"""Long runs (``make soak``): writes saturate the server while /ping is measured.

Asserted: every ping is answered, every write is either taken (204) or refused with 503 and
``Retry-After`` (never left hanging, never another error), and ``writes_rejected`` counts exactly
the 503s. The latencies are printed (figures for the record, not assertions: timings depend on
the machine). ``KAPFAST_SOAK_HTTP`` replaces the limited run's ``[http]`` lines (to try other limits).
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from kapfastd_proc import Kapfastd

pytestmark = pytest.mark.soak

SECONDS = float(os.environ.get("KAPFAST_SOAK_SECONDS", "20"))
WRITERS = 96  # more clients than the limited run's write queue holds (2 + 16)
LINES = 5000
LIMITED = "  max-concurrent-write-limit = 2\n  max-enqueued-write-limit = 16\n"


def _post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Retry-After", "")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _rejected(server: Kapfastd) -> int:
    stats = server.request("GET", "/kapacitor/v1/debug/vars").json()["kapacitor"]
    return int(stats["kapfast_http"]["values"]["writes_rejected"])


@pytest.mark.parametrize("limits", ["limited", "unlimited"])
def test_ping_answers_while_writes_saturate_the_server(
    kapfastd_factory: Callable[..., Kapfastd], limits: str
) -> None:
    unlimited = "  max-concurrent-write-limit = 0\n  max-enqueued-write-limit = 0\n"
    options = os.environ.get("KAPFAST_SOAK_HTTP", LIMITED) if limits == "limited" else unlimited
    server = kapfastd_factory(http_options=options)
    script = "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|count('value')\n"
    task = {"id": "load", "script": script, "status": "enabled"}
    assert server.api("POST", "/tasks", task).status == 200
    results: list[tuple[int, str, float]] = []
    stop = time.monotonic() + SECONDS

    bodies = [
        "".join(f"cpu,host=h{w}_{i % 500} value={i} {i}\n" for i in range(LINES)).encode() for w in range(8)
    ]

    def writer(w: int) -> None:
        while time.monotonic() < stop:
            t = time.perf_counter()
            status, retry = _post(server.url + "/write?db=telegraf&precision=s", bodies[w % len(bodies)])
            results.append((status, retry, time.perf_counter() - t))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for th in threads:
        th.start()
    pings: list[float] = []
    while time.monotonic() < stop:
        t = time.perf_counter()
        assert server.request("GET", "/ping").status == 204
        pings.append(time.perf_counter() - t)
        time.sleep(0.01)
    for th in threads:
        th.join()
    statuses = {s for s, _, _ in results}
    assert statuses <= {204, 503}, statuses
    refused = [r for r in results if r[0] == 503]
    assert all(retry == "1" for _, retry, _ in refused)
    assert _rejected(server) == len(refused)
    took = [d for s, _, d in results if s == 204]
    print(
        f"\n[{limits}] {len(results)} writes of {LINES} points in {SECONDS:g}s: {len(took)} taken, "
        f"{len(refused)} refused (503); {len(took) * LINES / SECONDS:,.0f} points/s taken; "
        f"write p50 {_pct(took, 0.5):.1f} ms p99 {_pct(took, 0.99):.1f} ms; "
        f"/ping n={len(pings)} p50 {_pct(pings, 0.5):.1f} ms p99 {_pct(pings, 0.99):.1f} ms "
        f"max {max(pings) * 1000:.1f} ms"
    )
