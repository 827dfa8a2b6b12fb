"""The UDFs of a server (or of ``kapfast test -config``): ``[udf.functions.NAME]`` each asked for
its ``Info`` once at start, then a new agent (process, or socket connection) per task node."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kapfast.config import UDFConfig, load
from kapfast.errors import ConfigError, UDFError
from kapfast.tick.udfs import UDFInfo, option_values
from kapfast.udf.agent import Agent

log = logging.getLogger("kapfast.udf")


def from_config_file(path: str) -> UDFService:
    """The UDFs of kapfastd's config file at ``path``, each asked for its Info (the offline
    ``kapfast check``/``kapfast test -config``); ConfigError when the file or an agent fails."""
    cfg, _ = load(path)
    service = UDFService(cfg.udf)
    service.load()
    return service


class UDFService:
    """``infos`` is what the TICKscript compiler checks ``@name()`` against."""

    def __init__(self, config: UDFConfig) -> None:
        self.config = config
        self.infos: dict[str, UDFInfo] = {}

    def load(self) -> None:
        """The ``Info`` handshake with every configured UDF (kapacitord does it at start, and a
        failure aborts the start with the same message)."""
        for name, fc in self.config.functions.items():
            try:
                agent = Agent(name, fc)
                try:
                    ev = agent.info()
                finally:
                    agent.close()
                self.infos[name] = UDFInfo.from_event(ev)
            except (UDFError, ValueError) as exc:
                msg = str(exc).removeprefix(f"UDF {name}: ")
                raise ConfigError(f'failed to load process info for "{name}": {msg}') from None
            log.info("loaded UDF info", extra={"tags": {"udf": name}})

    def open(self, name: str, task_id: str, node_id: str, properties: Mapping[str, Any]) -> Agent:
        """A new agent for one node of a task, initialized with the node's options."""
        fc = self.config.functions.get(name)
        if fc is None or name not in self.infos:
            raise UDFError(f"UDF {name} is not configured ([udf.functions.{name}])")
        options = []
        for opt, calls in properties.items():
            for values in option_values(calls):
                options.append((opt, values))
        agent = Agent(name, fc, label=node_id)
        try:
            agent.init(options, task_id, node_id)
        except BaseException:
            agent.abort()
            raise
        return agent
