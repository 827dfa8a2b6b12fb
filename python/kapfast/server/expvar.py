"""``/debug/vars`` as Go's ``expvar`` writes it, and ``memstats`` with this process's figures.

Go's ``expvar`` handler writes ``{``, then one ``"name": value`` line per variable in name order,
then ``}``: a map variable prints as ``{"k": v, "k2": v2}`` (sorted keys, ``", "`` and ``": "``
separators), a float with ``strconv``'s shortest ``%g`` form, anything else as compact JSON.
Telegraf's ``inputs.kapacitor`` reads ``memstats`` (Go's ``runtime.MemStats``), so kapfastd
fills the same keys with what a Python process can tell (docs/operations.md lists the mapping):

- ``Sys``: the resident set size (the memory this process holds from the OS);
- ``HeapSys``/``HeapAlloc``/``HeapIdle``/``HeapInuse``/``Alloc``: glibc's ``mallinfo2``
  (every allocation of the process: Python objects and the Rust engine's columns alike);
  nothing counts past allocations, so ``TotalAlloc`` is ``Alloc``;
- ``HeapObjects``/``Mallocs``: the interpreter's live memory blocks (Python keeps no count of
  past allocations, so ``Frees`` is 0 and ``Mallocs - Frees`` is the live count, as in Go);
- ``StackSys``/``StackInuse``: the main thread's stack (``VmStk``);
- ``NumGC``, ``LastGC``, ``PauseTotalNs``, ``PauseNs``/``PauseEnd`` (the last 256, a ring as
  in Go): the cyclic garbage collector's runs, timed by a ``gc.callbacks`` hook;
- what has no counterpart (``Lookups``, ``MSpan*``, ``MCache*``, ``BuckHashSys``,
  ``NumForcedGC``, ``DebugGC``, ``BySize``, ``HeapReleased``, ``NextGC``, ``GCSys``,
  ``OtherSys``, ``GCCPUFraction``) is 0 or empty.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
import time
from typing import Any

from kapfast.gofmt import format_float, go_quote, json_marshal, json_string

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class RawJSON(str):
    """A value already encoded (``memstats``): written as it is."""


# --- garbage collector timing --------------------------------------------------------------------


class _GCTimes:
    """The collector's runs: count, last end, total and last 256 pauses (Go's ring buffers)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.num = 0
        self.total_ns = 0
        self.last_end_ns = 0
        self.pause_ns = [0] * 256
        self.pause_end = [0] * 256
        self._started = 0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        del info
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        took = time.perf_counter_ns() - self._started if self._started else 0
        end = time.time_ns()
        with self.lock:
            slot = self.num % 256
            self.pause_ns[slot] = took
            self.pause_end[slot] = end
            self.num += 1
            self.total_ns += took
            self.last_end_ns = end


_GC = _GCTimes()
gc.callbacks.append(_GC.callback)


# --- malloc and /proc figures --------------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
            *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _mallinfo() -> _MallInfo2 | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None  # not glibc 2.33+: the heap figures stay 0
    fn.restype = _MallInfo2
    info: _MallInfo2 = fn()
    return info


def _proc_status() -> dict[str, int]:
    """``VmRSS``, ``VmStk``... of /proc/self/status, in bytes (empty where there is no /proc)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def memstats() -> dict[str, Any]:
    """``runtime.MemStats`` keys, in Go's field order, with this process's figures."""
    status = _proc_status()
    mi = _mallinfo()
    heap_sys = (mi.arena + mi.hblkhd) if mi else 0
    heap_inuse = (mi.uordblks + mi.hblkhd) if mi else 0
    heap_idle = mi.fordblks if mi else 0
    live = sys.getallocatedblocks()
    stack = status.get("VmStk", 0)
    with _GC.lock:
        num_gc, total_ns, last = _GC.num, _GC.total_ns, _GC.last_end_ns
        pause_ns, pause_end = list(_GC.pause_ns), list(_GC.pause_end)
    return {
        "Alloc": heap_inuse,
        "TotalAlloc": heap_inuse,
        "Sys": status.get("VmRSS", 0),
        "Lookups": 0,
        "Mallocs": live,
        "Frees": 0,
        "HeapAlloc": heap_inuse,
        "HeapSys": heap_sys,
        "HeapIdle": heap_idle,
        "HeapInuse": heap_inuse,
        "HeapReleased": 0,
        "HeapObjects": live,
        "StackInuse": stack,
        "StackSys": stack,
        "MSpanInuse": 0,
        "MSpanSys": 0,
        "MCacheInuse": 0,
        "MCacheSys": 0,
        "BuckHashSys": 0,
        "GCSys": 0,
        "OtherSys": 0,
        "NextGC": 0,
        "LastGC": last,
        "PauseTotalNs": total_ns,
        "PauseNs": pause_ns,
        "PauseEnd": pause_end,
        "NumGC": num_gc,
        "NumForcedGC": 0,
        "GCCPUFraction": 0.0,
        "EnableGC": gc.isenabled(),
        "DebugGC": False,
        "BySize": [],
    }


# --- the expvar text -----------------------------------------------------------------------------


def _value(v: Any) -> str:
    if isinstance(v, RawJSON):
        return str(v)
    if isinstance(v, dict):
        inner = ", ".join(f"{go_quote(str(k))}: {_value(v[k])}" for k in sorted(v, key=str))
        return "{" + inner + "}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return json_string(v)
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    return json_marshal(v)  # a list (cmdline): Go's json.Marshal


def render(variables: dict[str, Any]) -> str:
    """The ``/debug/vars`` body of ``variables`` (``memstats`` is added here)."""
    variables = {**variables, "memstats": RawJSON(json_marshal(memstats()))}
    lines = [f"{go_quote(k)}: {_value(variables[k])}" for k in sorted(variables)]
    return "{\n" + ",\n".join(lines) + "\n}\n"
