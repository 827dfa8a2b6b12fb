"""Kubernetes: a resource's ``scale`` subresource, read with GET and set with a JSON patch of
``/spec/replicas`` (as Kapacitor's ``services/k8s/client``).

Kapacitor still calls ``/apis/extensions/v1beta1/...`` and patches the ``selfLink`` the GET
returned; Kubernetes removed that API group for these kinds in 1.16 and ``selfLink`` in 1.20, so
its k8sAutoscale fails on every current cluster. kapfast calls the APIs that serve them today:
``apps/v1`` for deployments and replicasets, the core ``v1`` for replicationcontrollers, and
patches the scale path it read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kapfast.autoscale.base import AutoscaleError, HttpPeer, ssl_context

NAMESPACE_DEFAULT = "default"
KINDS = ("deployments", "replicasets", "replicationcontrollers")
SECRETS = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def scale_path(namespace: str, kind: str, name: str) -> str:
    base = "/api/v1" if kind == "replicationcontrollers" else "/apis/apps/v1"
    return f"{base}/namespaces/{namespace}/{kind}/{name}/scale"


class K8sScaler:
    def __init__(
        self,
        urls: list[str],
        token: str = "",
        namespace: str = "",
        ca_path: str = "",
        in_cluster: bool = False,
    ) -> None:
        if in_cluster:
            try:
                namespace = (SECRETS / "namespace").read_text().strip()
                token = (SECRETS / "token").read_text().strip()
            except OSError as e:
                raise AutoscaleError(f"could not load the in-cluster secrets: {e}") from None
            ca_path = str(SECRETS / "ca.crt")
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes")
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
            urls = [f"https://{host}:{port}" if port else f"https://{host}"]
        self.peer = HttpPeer(urls, "k8s", ssl_context(ca=ca_path))
        self.token = token
        self.namespace = namespace or NAMESPACE_DEFAULT

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def replicas(self, namespace: str, kind: str, name: str) -> int:
        ns = namespace or self.namespace
        status, body = self.peer.request("GET", scale_path(ns, kind, name), headers=self._headers())
        if status != 200:
            raise AutoscaleError(f"failed to get scale {ns}/{kind}/{name}: {_status_text(status, body)}")
        try:
            return int(body["spec"].get("replicas", 0))
        except (TypeError, KeyError, AttributeError, ValueError):
            raise AutoscaleError(f"failed to get scale {ns}/{kind}/{name}: not a Scale object") from None

    def set_replicas(self, namespace: str, kind: str, name: str, replicas: int) -> None:
        ns = namespace or self.namespace
        patch = [{"op": "replace", "path": "/spec/replicas", "value": replicas}]
        status, body = self.peer.request(
            "PATCH",
            scale_path(ns, kind, name),
            patch,
            headers=self._headers(),
            content_type="application/json-patch+json",
        )
        if status != 200:
            raise AutoscaleError(f"failed to update scale {ns}/{kind}/{name}: {_status_text(status, body)}")


def _status_text(status: int, body: Any) -> str:
    """A Kubernetes ``Status`` answer's message (Kapacitor returns the Status as the error)."""
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"failed to understand k8s server response: Code: {status}"
