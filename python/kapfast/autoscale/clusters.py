"""The configured clusters of each orchestrator, by id: ``ctx.services["autoscale"]``."""

from __future__ import annotations

from typing import Any

from kapfast.autoscale.base import AutoscaleError, Scaler
from kapfast.autoscale.ec2 import EC2Scaler
from kapfast.autoscale.k8s import K8sScaler
from kapfast.autoscale.swarm import SwarmScaler

SERVICE_KEY = "autoscale"

#: node kind -> (config section, what Kapacitor's error calls the client)
KINDS = {
    "k8sAutoscale": ("kubernetes", "kubernetes"),
    "swarmAutoscale": ("swarm", "swarm"),
    "ec2Autoscale": ("ec2", "ec2"),
}


class Clusters:
    """Scalers by section and id; a section's only (or id-less) element also answers id ``default``
    and the empty id, as the node's ``.cluster()`` defaults to ``default``."""

    def __init__(self) -> None:
        self.scalers: dict[str, dict[str, Scaler]] = {"kubernetes": {}, "swarm": {}, "ec2": {}}

    def add(self, section: str, ident: str, scaler: Scaler) -> None:
        self.scalers[section][ident] = scaler

    def get(self, section: str, cluster: str) -> Scaler:
        found = self.scalers.get(section, {})
        s = found.get(cluster)
        if s is None and cluster in ("", "default") and len(found) == 1:
            s = next(iter(found.values()))
        if s is None:
            s = found.get("")
        if s is None:
            raise AutoscaleError(f"unknown {section} cluster {cluster!r}, cannot create client")
        return s

    @classmethod
    def from_config(cls, cfg: Any) -> Clusters:
        out = cls()
        out.update(cfg)
        return out

    def update(self, cfg: Any) -> None:
        """Replace every scaler by the config's (the config API changed a section): nodes look
        their scaler up on each call, so running tasks use the new ones at once."""
        fresh = Clusters()
        fresh._fill(cfg)
        self.scalers = fresh.scalers

    async def reconfigure(self, cfg: Any) -> None:
        """The config service's live-update hook of ``[kubernetes]``, ``[swarm]``, ``[ec2]``."""
        self.update(cfg)

    def _fill(self, cfg: Any) -> None:
        out = self
        for kc in cfg.kubernetes:
            if kc.enabled:
                out.add(
                    "kubernetes",
                    kc.id,
                    K8sScaler(list(kc.api_servers), kc.token, kc.namespace, kc.ca_path, kc.in_cluster),
                )
        for sc in cfg.swarm:
            if sc.enabled:
                out.add(
                    "swarm",
                    sc.id,
                    SwarmScaler(
                        list(sc.servers), sc.ssl_ca, sc.ssl_cert, sc.ssl_key, sc.insecure_skip_verify
                    ),
                )
        for ec in cfg.ec2:
            if ec.enabled:
                out.add("ec2", ec.id, EC2Scaler(ec.region, ec.access_key, ec.secret_key, ec.profile))
