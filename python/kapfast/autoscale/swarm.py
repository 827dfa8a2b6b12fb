"""Docker Swarm: a service's replicas through the Docker Engine API v1.30 (as Kapacitor's
``services/swarm/client``): ``GET /v1.30/services/{name}``, then
``POST /v1.30/services/{id}/update?version={index}`` with the spec, replicas changed.

Kapacitor decodes the spec into its own Go type and encodes it back, which drops every field
its vendored Docker types did not know; kapfast sends the spec it read with only the replicas
changed.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from kapfast.autoscale.base import AutoscaleError, HttpPeer, ssl_context

VERSION = "v1.30"


class SwarmScaler:
    def __init__(
        self, urls: list[str], ca: str = "", cert: str = "", key: str = "", insecure: bool = False
    ) -> None:
        self.peer = HttpPeer(urls, "swarm", ssl_context(ca, cert, key, insecure))

    def _service(self, name: str) -> dict[str, Any]:
        path = f"/{VERSION}/services/{urllib.parse.quote(name, safe='')}"
        status, body = self.peer.request("GET", path)
        if status != 200:
            raise AutoscaleError(f"failed to get swarm service for {name!r}: {_message(status, body)}")
        if not isinstance(body, dict):
            raise AutoscaleError(f"failed to get swarm service for {name!r}: not a service object")
        return body

    @staticmethod
    def _replicated(service: dict[str, Any], name: str) -> dict[str, Any]:
        try:
            rep = service["Spec"]["Mode"]["Replicated"]
        except (KeyError, TypeError):
            raise AutoscaleError(f"swarm service {name!r} is not in replicated mode") from None
        if not isinstance(rep, dict):
            raise AutoscaleError(f"swarm service {name!r} is not in replicated mode")
        return rep

    def replicas(self, namespace: str, kind: str, name: str) -> int:
        return int(self._replicated(self._service(name), name).get("Replicas", 0))

    def set_replicas(self, namespace: str, kind: str, name: str, replicas: int) -> None:
        service = self._service(name)
        self._replicated(service, name)["Replicas"] = replicas
        sid = str(service.get("ID") or name)
        index = int((service.get("Version") or {}).get("Index", 0))
        path = f"/{VERSION}/services/{urllib.parse.quote(sid, safe='')}/update?version={index}"
        status, body = self.peer.request("POST", path, service["Spec"])
        if status != 200:
            raise AutoscaleError(_message(status, body))


def _message(status: int, body: Any) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"failed to understand swarm server error response: Code: {status}"
