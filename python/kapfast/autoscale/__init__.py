"""Small clients of the orchestrators the autoscale nodes scale (``k8sAutoscale``,
``swarmAutoscale``, ``ec2Autoscale``): read a resource's replica count, set a new one.

Each client is one configured cluster (``[[kubernetes]]``, ``[[swarm]]``, ``[[ec2]]``, picked by
the node's ``.cluster()`` id); :class:`~kapfast.autoscale.clusters.Clusters` holds them for the
engine as ``ctx.services["autoscale"]``. Errors are :class:`AutoscaleError` with the peer's text.
"""

from kapfast.autoscale.base import AutoscaleError, Scaler

__all__ = ["AutoscaleError", "Scaler"]
