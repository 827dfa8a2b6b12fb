"""``kapfastd``: the server, with kapacitord's commands and flags.

    kapfastd [run] [-config FILE] [-pidfile FILE] [-hostname NAME] [-log-file FILE] [-log-level LVL]
             [-disable-handlers KIND,...]
    kapfastd config [-config FILE]     print the effective configuration (the defaults without -config)
    kapfastd version
    kapfastd help

Without a config file kapfastd starts with embedded defaults: state under ``~/.kapfast``, HTTP on
127.0.0.1:9092, no InfluxDB needed. ``-config`` falls back to ``$KAPFAST_CONFIG_PATH`` and then
``$KAPACITOR_CONFIG_PATH``, as kapacitord does.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from kapfast import __version__
from kapfast import config as configmod
from kapfast.errors import ConfigError, KapfastError
from kapfast.logs import LogfmtFormatter, parse_level
from kapfast.server.app import build_app, build_state
from kapfast.server.http import AccessLogger
from kapfast.tick.registry import ALERT_HANDLERS

log = logging.getLogger("kapfastd")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kapfastd",
        description="kapfastd: the kapfast server, a drop-in replacement for kapacitord.",
    )
    p.add_argument(
        "command", nargs="?", default="run", choices=["run", "config", "version", "help"], help="default: run"
    )
    p.add_argument("-config", "--config", dest="config", help="TOML config file (kapacitord's format)")
    p.add_argument("-pidfile", "--pidfile", dest="pidfile", help="write the process id to this file")
    p.add_argument("-hostname", "--hostname", dest="hostname", help="override the hostname in the config")
    p.add_argument("-log-file", "--log-file", dest="log_file", help="log to this file instead of stderr")
    p.add_argument("-log-level", "--log-level", dest="log_level", help="DEBUG, INFO, WARN, ERROR or OFF")
    p.add_argument(
        "-disable-handlers",
        "--disable-handlers",
        dest="disable_handlers",
        default="",
        help="comma-separated alert handler kinds this server refuses (e.g. exec,log): "
        "tasks and topic handlers using them are refused",
    )
    return p


#: [tls] min-version / max-version names, as kapacitord spells them
_TLS_VERSIONS = {
    "tls1.0": ssl.TLSVersion.TLSv1,
    "tls1.1": ssl.TLSVersion.TLSv1_1,
    "tls1.2": ssl.TLSVersion.TLSv1_2,
    "tls1.3": ssl.TLSVersion.TLSv1_3,
}


def server_ssl_context(cfg: configmod.Config) -> ssl.SSLContext | None:
    """``[http] https-enabled``: the certificate (and key: in the same PEM file unless
    ``https-private-key`` is set) and ``[tls]`` protocol versions; None for plain HTTP."""
    if not cfg.http.https_enabled:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    for key, attr in (("min-version", "minimum_version"), ("max-version", "maximum_version")):
        name = getattr(cfg.tls, key.replace("-", "_")).lower()
        if not name:
            continue
        if name not in _TLS_VERSIONS:
            raise ConfigError(f"[tls] {key} {name!r}: expected one of {', '.join(_TLS_VERSIONS)}")
        setattr(ctx, attr, _TLS_VERSIONS[name])
    cert, key = cfg.http.https_certificate, cfg.http.https_private_key
    try:
        ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as exc:
        where = f"{cert}" + (f" / https-private-key {key}" if key else "")
        raise ConfigError(
            f"[http] https-certificate {where}: cannot load the certificate and key: {exc}"
        ) from None
    return ctx


def _disabled_handlers(text: str) -> frozenset[str]:
    """``-disable-handlers exec,log``: known handler kinds only (a typo must not leave ``exec``
    enabled while the operator believes it is off)."""
    kinds = frozenset(k.strip().lower() for k in text.split(",") if k.strip())
    known = {k.lower() for k in ALERT_HANDLERS} | {"aggregate", "publish", "smtp"}
    unknown = sorted(kinds - known)
    if unknown:
        raise ConfigError(
            f"-disable-handlers: unknown alert handler kind(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    if kinds & {"smtp", "email"}:  # the topic handler kind and the TICKscript method of one handler
        kinds |= {"smtp", "email"}
    return kinds


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _warn_if_exposed(cfg: configmod.Config) -> None:
    """A server reachable from other hosts without auth lets anyone run programs (.exec()),
    append to files (.log()) and download its secrets (the backup): say so loudly."""
    host = cfg.http.bind_address.rpartition(":")[0]
    if cfg.http.auth_enabled or _is_loopback(host):
        return
    where = host or "every interface"
    message = (
        f"SECURITY WARNING: listening on {where} ({cfg.http.bind_address}) with [http] auth-enabled = false: "
        "anyone who reaches this port can define tasks that run programs and write files as this "
        "server's user, and download the store with its secrets. Enable auth "
        "([http] auth-enabled = true, [auth] enabled = true) or bind 127.0.0.1."
    )
    log.warning(message)
    print(f"kapfastd: {message}", file=sys.stderr, flush=True)


def _config_path(arg: str | None) -> str | None:
    return arg or os.environ.get("KAPFAST_CONFIG_PATH") or os.environ.get("KAPACITOR_CONFIG_PATH") or None


def _setup_logging(cfg: configmod.Config) -> None:
    """Structured (logfmt) lines with tags to ``[logging] file``, at ``[logging] level``."""
    handler: logging.Handler
    if cfg.logging.file.upper() in {"", "STDERR"}:
        handler = logging.StreamHandler(sys.stderr)
    elif cfg.logging.file.upper() == "STDOUT":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.FileHandler(cfg.logging.file)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(parse_level(cfg.logging.level))


async def _serve(cfg: configmod.Config, disabled_handlers: frozenset[str] = frozenset()) -> None:
    tls = server_ssl_context(cfg)
    state = build_state(cfg)
    state.tasks.disabled_handlers = disabled_handlers
    app = build_app(state)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("kapfast.http") if cfg.http.log_enabled else None,
        access_log_class=AccessLogger,
        # /write inflates gzip bodies itself (server/write.py): it must see a truncated stream
        # to refuse it; no other endpoint takes compressed bodies, as in Kapacitor
        auto_decompress=False,
    )
    await runner.setup()
    host, _, port = cfg.http.bind_address.rpartition(":")
    try:
        site = web.TCPSite(runner, host or None, int(port), ssl_context=tls)
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    log.info(
        "listening on %s, data dir %s",
        cfg.http.bind_address,
        cfg.data_path,
        extra={"tags": {"version": __version__, "hostname": cfg.hostname}},
    )
    scheme = "https" if tls is not None else "http"
    print(
        f"kapfastd {__version__} listening on {scheme}://{host or '0.0.0.0'}:{port}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


#: glibc mallopt parameters: (number, value) for M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD
_MALLOC_TUNING = ((-3, 32 << 20), (-1, 128 << 20), (-2, 16 << 20))


def _tune_malloc() -> None:
    """Keep freed write buffers for the next write instead of handing them back to the kernel.

    Every write allocates its body, its columns and its batch (hundreds of KB to MB each) and
    frees them a moment later; with glibc's defaults much of that is mmap'ed or trimmed and comes
    back as fresh pages that fault in again (~7 % of kapfastd's CPU under load, and ~6-10 % more
    points per CPU-second without it, benches/bench_server.py). At most 128 MiB of freed heap is
    kept. Not glibc, or MALLOC_* tunables set by the operator: left alone."""
    if any(k.startswith(("MALLOC_", "GLIBC_TUNABLES")) for k in os.environ):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    for param, value in _MALLOC_TUNING:
        mallopt(param, value)


def _run_loop(cfg: configmod.Config, disabled_handlers: frozenset[str] = frozenset()) -> None:
    try:
        import uvloop

        uvloop.run(_serve(cfg, disabled_handlers))
    except ImportError:  # uvloop is a dependency, but kapfastd still runs without it
        asyncio.run(_serve(cfg, disabled_handlers))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "help":
        _parser().print_help()
        return 0
    if args.command == "version":
        print(f"kapfastd {__version__}")
        return 0
    wrote_pidfile = False
    try:
        cfg, warnings = configmod.load(_config_path(args.config))
        if args.hostname:
            cfg.hostname = args.hostname
        if args.log_file:
            cfg.logging.file = args.log_file
        if args.log_level:
            try:
                parse_level(args.log_level)
            except ValueError as exc:
                raise ConfigError(f"-log-level: {exc}") from None
            cfg.logging.level = args.log_level
        if args.command == "config":
            sys.stdout.write(configmod.render(cfg))
            return 0
        disabled = _disabled_handlers(args.disable_handlers)
        _setup_logging(cfg)
        for w in warnings:
            log.warning(w)
        _warn_if_exposed(cfg)
        if disabled:
            log.info("alert handlers disabled: %s", ", ".join(sorted(disabled)))
        if args.pidfile:
            Path(args.pidfile).write_text(f"{os.getpid()}\n")
            wrote_pidfile = True
        _tune_malloc()
        _run_loop(cfg, disabled)
    except KapfastError as exc:
        print(f"kapfastd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kapfastd: {exc}", file=sys.stderr)
        return 1
    finally:
        if wrote_pidfile:  # never remove a pidfile some other run wrote
            Path(args.pidfile).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
