"""``kapfastd``: the server, with kapacitord's commands and flags.

    kapfastd [run] [-config FILE] [-pidfile FILE] [-hostname NAME] [-log-file FILE] [-log-level LVL]
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
import logging
import os
import signal
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
    return p


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


async def _serve(cfg: configmod.Config) -> None:
    state = build_state(cfg)
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
        site = web.TCPSite(runner, host or None, int(port))
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
    print(
        f"kapfastd {__version__} listening on http://{host or '0.0.0.0'}:{port}", file=sys.stderr, flush=True
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


def _run_loop(cfg: configmod.Config) -> None:
    try:
        import uvloop

        uvloop.run(_serve(cfg))
    except ImportError:  # uvloop is a dependency, but kapfastd still runs without it
        asyncio.run(_serve(cfg))


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
        _setup_logging(cfg)
        for w in warnings:
            log.warning(w)
        if args.pidfile:
            Path(args.pidfile).write_text(f"{os.getpid()}\n")
            wrote_pidfile = True
        _run_loop(cfg)
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
