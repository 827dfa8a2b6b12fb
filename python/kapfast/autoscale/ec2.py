"""AWS EC2 Auto Scaling: a group's desired capacity (as Kapacitor's ``services/ec2/client``):
``DescribeAutoScalingGroups`` reads it, ``SetDesiredCapacity`` sets it with
``HonorCooldown=false`` (the node has its own cooldowns). Requests are signed by botocore, the
AWS SDK's own core (imported on first use: it takes a while to load).
"""

from __future__ import annotations

from typing import Any

from kapfast.autoscale.base import TIMEOUT_S, AutoscaleError


class EC2Scaler:
    def __init__(
        self,
        region: str,
        access_key: str = "",
        secret_key: str = "",
        profile: str = "",
        endpoint_url: str = "",
    ) -> None:
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.profile = profile
        #: another endpoint than AWS's (a test server, a VPC endpoint)
        self.endpoint_url = endpoint_url
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import botocore.config
            import botocore.session

            session = botocore.session.Session(profile=self.profile or None)
            cfg = botocore.config.Config(
                connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, retries={"max_attempts": 1}
            )
            self._client = session.create_client(
                "autoscaling",
                region_name=self.region,
                aws_access_key_id=self.access_key or None,
                aws_secret_access_key=self.secret_key or None,
                endpoint_url=self.endpoint_url or None,
                config=cfg,
            )
        return self._client

    def replicas(self, namespace: str, kind: str, name: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out = self.client().describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        except (BotoCoreError, ClientError) as e:
            raise AutoscaleError(f"failed to get ec2 autoscaleGroup for {name!r}: {e}") from None
        desired = 0
        for group in out.get("AutoScalingGroups") or []:  # the last one, as Kapacitor
            desired = int(group.get("DesiredCapacity", 0))
        return desired

    def set_replicas(self, namespace: str, kind: str, name: str, replicas: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client().set_desired_capacity(
                AutoScalingGroupName=name, DesiredCapacity=replicas, HonorCooldown=False
            )
        except (BotoCoreError, ClientError) as e:
            raise AutoscaleError(f"Failed to set desired capacity {e}") from None
