"""k8sAutoscale, swarmAutoscale and ec2Autoscale against loopback servers speaking the Kubernetes,
Docker Engine and AWS Auto Scaling APIs, recording the scale requests. The decisions are those of
Kapacitor's autoscale.go: bounds, cooldowns by point time, state kept only after a successful
call, one point per change with fields old/new."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from tests.engine.helpers import S, feed
from tests.engine.recorder import Recorder, Request

from kapfast.autoscale.clusters import SERVICE_KEY, Clusters
from kapfast.autoscale.ec2 import EC2Scaler
from kapfast.autoscale.k8s import K8sScaler
from kapfast.autoscale.swarm import SwarmScaler
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import Message, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.task import Task
from kapfast.errors import TaskError
from kapfast.tick import compile_script
from kapfast.tick.pipeline import Node as NodeSpec


class Collect(Node):
    """Keeps every point its parent emits (as rows)."""

    def __init__(self) -> None:
        spec = NodeSpec(id=999, kind="collect", name="collect", wants="stream", provides="none")
        super().__init__(spec, TaskContext(task_id="t", clock=VirtualClock(0)))
        self.rows: list[Any] = []

    def push(self, msg: Message, port: int = 0) -> None:
        if isinstance(msg, StreamChunk):
            self.rows.extend(msg.batch.rows())


def _task(script: str, clusters: Clusters) -> tuple[Task, VirtualClock, Collect, Node]:
    clock = VirtualClock(0)
    ctx = TaskContext(task_id="t", clock=clock, services={SERVICE_KEY: clusters})
    task = Task("t", compile_script(script), ctx)
    node = next(n for n in task.nodes.values() if n.spec.kind.endswith("Autoscale"))
    out = Collect()
    node.link(out, 0)
    return task, clock, out, node


class FakeK8s:
    """Scale subresources of deployments; PATCH with a JSON patch of /spec/replicas."""

    def __init__(self, replicas: dict[str, int], fail_patch: bool = False) -> None:
        self.replicas = dict(replicas)
        self.fail_patch = fail_patch

    def __call__(self, req: Request) -> tuple[int, str, bytes]:
        parts = req.path.split("/")  # /apis/apps/v1/namespaces/{ns}/{kind}/{name}/scale
        ns, kind, name = parts[5], parts[6], parts[7]
        if name not in self.replicas:
            body = {
                "kind": "Status",
                "status": "Failure",
                "message": f'{kind} "{name}" not found',
                "code": 404,
            }
            return 404, "application/json", json.dumps(body).encode()
        if req.method == "PATCH":
            if self.fail_patch:
                return 500, "application/json", b'{"kind":"Status","message":"etcd is down","code":500}'
            assert req.headers["Content-Type"] == "application/json-patch+json"
            (op,) = json.loads(req.body)
            assert op["op"] == "replace" and op["path"] == "/spec/replicas"
            self.replicas[name] = op["value"]
        scale = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": self.replicas[name]},
            "status": {"replicas": self.replicas[name]},
        }
        return 200, "application/json", json.dumps(scale).encode()


def _k8s(url: str) -> Clusters:
    c = Clusters()
    c.add("kubernetes", "", K8sScaler([url], token="tok"))
    return c


K8S_SCRIPT = """
stream|from().measurement('scale').groupBy('deployment')
  |k8sAutoscale()
    .resourceNameTag('deployment')
    .min(1).max(4)
    .replicas(lambda: int("value"))
    .increaseCooldown(10s)
"""


def test_k8s_bounds_cooldowns_and_emitted_points() -> None:
    fake = FakeK8s({"serviceA": 1})
    with Recorder(fake) as srv:
        task, clock, out, node = _task(K8S_SCRIPT, _k8s(srv.url))
        d = {"deployment": "serviceA"}
        feed(
            task,
            clock,
            [
                ("scale", d, {"value": 2.0}, 0),  # 1 -> 2
                ("scale", d, {"value": 2.0}, 1 * S),  # no change
                ("scale", d, {"value": 3.0}, 5 * S),  # within the increase cooldown: dropped
                ("scale", d, {"value": 9.0}, 12 * S),  # 2 -> 4 (max)
                ("scale", d, {"value": 0.0}, 13 * S),  # 4 -> 1 (min); no decrease cooldown
            ],
            chunk=1,
        )
        methods = [(r.method, r.path) for r in srv.requests]
    path = "/apis/apps/v1/namespaces/default/deployments/serviceA/scale"
    assert methods == [("GET", path), ("PATCH", path), ("PATCH", path), ("PATCH", path)]
    assert srv.requests[0].headers["Authorization"] == "Bearer tok"
    assert fake.replicas == {"serviceA": 1}
    tags = {"deployment": "serviceA", "namespace": "default", "kind": "deployments", "resource": "serviceA"}
    assert out.rows == [
        ("scale", tags, {"old": 1, "new": 2}, 0),
        ("scale", tags, {"old": 2, "new": 4}, 12 * S),
        ("scale", tags, {"old": 4, "new": 1}, 13 * S),
    ]
    st = task.node_stats()[node.name]
    assert (st["increase_events"], st["decrease_events"], st["cooldown_drops"]) == (2, 1, 1)


def test_cooldown_and_replicas_survive_a_checkpoint() -> None:
    """#15: a restored task keeps the replica count and the increase cooldown (a fresh one would
    GET the count and scale again inside the cooldown)."""
    fake = FakeK8s({"serviceA": 1})
    d = {"deployment": "serviceA"}
    with Recorder(fake) as srv:
        task, clock, out, _ = _task(K8S_SCRIPT, _k8s(srv.url))
        feed(task, clock, [("scale", d, {"value": 2.0}, 0)])
        again, clock2, out2, _ = _task(K8S_SCRIPT, _k8s(srv.url))
        again.restore(task.snapshot())
        feed(
            again,
            clock2,
            [("scale", d, {"value": 3.0}, 5 * S), ("scale", d, {"value": 3.0}, 11 * S)],
            chunk=1,
        )
        methods = [r.method for r in srv.requests]
    assert methods == ["GET", "PATCH", "PATCH"]  # no second GET: the count was restored
    assert out.rows + out2.rows == [
        ("scale", out.rows[0][1], {"old": 1, "new": 2}, 0),
        ("scale", out.rows[0][1], {"old": 2, "new": 3}, 11 * S),  # 5s was inside the cooldown
    ]


def test_current_field_steps_from_the_current_count() -> None:
    fake = FakeK8s({"web": 3})
    script = """
stream|from().measurement('m')
  |k8sAutoscale().resourceName('web').namespace('prod').kind('replicasets')
    .namespaceTag('').kindTag('k')
    .currentField('replicas').replicas(lambda: if("load" > 0.8, "replicas" + 1, "replicas"))
"""
    with Recorder(fake) as srv:
        task, clock, out, _ = _task(script, _k8s(srv.url))
        feed(
            task,
            clock,
            [("m", {}, {"load": v}, i * S) for i, v in enumerate([0.9, 0.5, 0.95, 0.99])],
            chunk=1,
        )
    assert srv.requests[0].path == "/apis/apps/v1/namespaces/prod/replicasets/web/scale"
    assert [(r[2]["old"], r[2]["new"]) for r in out.rows] == [(3, 4), (4, 5), (5, 6)]
    assert out.rows[0][1] == {"k": "replicasets", "resource": "web"}


def test_failed_update_keeps_the_state_and_counts_an_error() -> None:
    fake = FakeK8s({"a": 2}, fail_patch=True)
    with Recorder(fake) as srv:
        task, clock, out, node = _task(K8S_SCRIPT, _k8s(srv.url))
        feed(task, clock, [("scale", {"deployment": "a"}, {"value": 3.0}, 0)])
        fake.fail_patch = False
        # the failed increase started no cooldown: the next point scales at once
        feed(task, clock, [("scale", {"deployment": "a"}, {"value": 3.0}, S)])
    assert [(r[2]["old"], r[2]["new"]) for r in out.rows] == [(2, 3)]
    assert task.node_stats()[node.name]["errors"] == 1
    assert task.node_stats()[node.name]["increase_events"] == 1


def test_batch_points_scale_with_the_batch_name() -> None:
    fake = FakeK8s({"a": 1})
    script = """
stream|from().measurement('cpu').groupBy('deployment')
  |window().period(10s).every(10s)
  |k8sAutoscale().resourceNameTag('deployment').replicas(lambda: int("n"))
"""
    with Recorder(fake) as srv:
        task, clock, out, _ = _task(script, _k8s(srv.url))
        feed(
            task,
            clock,
            [("cpu", {"deployment": "a"}, {"n": n}, t * S) for t, n in ((1, 2), (2, 3), (11, 1))],
            chunk=1,
        )
    assert [(r[0], r[2]["old"], r[2]["new"], r[3]) for r in out.rows] == [
        ("cpu", 1, 2, S),
        ("cpu", 2, 3, 2 * S),
    ]


def test_swarm_service_spec_updated_with_its_version() -> None:
    service = {
        "ID": "x1y2",
        "Version": {"Index": 17},
        "Spec": {"Name": "web", "Labels": {"team": "ops"}, "Mode": {"Replicated": {"Replicas": 2}}},
    }

    def docker(req: Request) -> tuple[int, str, bytes]:
        if req.method == "GET":
            return 200, "application/json", json.dumps(service).encode()
        return 200, "application/json", b"{}"

    with Recorder(docker) as srv:
        clusters = Clusters()
        clusters.add("swarm", "c1", SwarmScaler([srv.url]))
        script = """
stream|from().measurement('m').groupBy('svc')
  |swarmAutoscale().cluster('c1').serviceNameTag('svc').outputServiceNameTag('service')
    .replicas(lambda: 5).decreaseCooldown(1m)
"""
        task, clock, out, _ = _task(script, clusters)
        feed(task, clock, [("m", {"svc": "web"}, {"v": 1}, 0)])
    # as Kapacitor: the service is read when first seen and again right before its update
    get, get_again, post = srv.requests
    assert (get.method, get.path) == (get_again.method, get_again.path) == ("GET", "/v1.30/services/web")
    assert (post.method, post.path) == ("POST", "/v1.30/services/x1y2/update?version=17")
    spec = json.loads(post.body)
    assert spec == {"Name": "web", "Labels": {"team": "ops"}, "Mode": {"Replicated": {"Replicas": 5}}}
    assert out.rows == [("m", {"svc": "web", "service": "web"}, {"old": 2, "new": 5}, 0)]


def test_ec2_desired_capacity_through_the_signed_query_api() -> None:
    ns = 'xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"'

    def aws(req: Request) -> tuple[int, str, bytes]:
        form = urllib.parse.parse_qs(req.body.decode())
        meta = "<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>"
        if form["Action"] == ["DescribeAutoScalingGroups"]:
            body = (
                f"<DescribeAutoScalingGroupsResponse {ns}><DescribeAutoScalingGroupsResult>"
                "<AutoScalingGroups><member><AutoScalingGroupName>asg1</AutoScalingGroupName>"
                "<DesiredCapacity>3</DesiredCapacity><MinSize>1</MinSize><MaxSize>10</MaxSize>"
                "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult>"
                f"{meta}</DescribeAutoScalingGroupsResponse>"
            )
        else:
            body = f"<SetDesiredCapacityResponse {ns}>{meta}</SetDesiredCapacityResponse>"
        return 200, "text/xml", body.encode()

    with Recorder(aws) as srv:
        clusters = Clusters()
        scaler = EC2Scaler("us-east-1", "AKIDEXAMPLE", "secret", endpoint_url=srv.url)
        clusters.add("ec2", "aws", scaler)
        script = """
stream|from().measurement('m')
  |ec2Autoscale().cluster('aws').groupName('asg1').outputGroupNameTag('group').replicas(lambda: 1)
"""
        task, clock, out, _ = _task(script, clusters)
        feed(task, clock, [("m", {}, {"v": 1}, 0)])
    describe, setcap = (urllib.parse.parse_qs(r.body.decode()) for r in srv.requests)
    assert describe["Action"] == ["DescribeAutoScalingGroups"]
    assert describe["AutoScalingGroupNames.member.1"] == ["asg1"]
    assert setcap["Action"] == ["SetDesiredCapacity"]
    assert setcap["AutoScalingGroupName"] == ["asg1"]
    assert setcap["DesiredCapacity"] == ["1"] and setcap["HonorCooldown"] == ["false"]
    assert srv.requests[1].headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert out.rows == [("m", {"group": "asg1"}, {"old": 3, "new": 1}, 0)]


def test_unknown_cluster_is_refused_when_the_task_starts() -> None:
    with pytest.raises(TaskError, match="could not create kubernetes client"):
        _task(K8S_SCRIPT, Clusters())


def test_define_time_checks_follow_kapacitor_validate() -> None:
    from kapfast.errors import InputError

    with pytest.raises(InputError, match="exactly one of ResourceName or ResourceNameTag"):
        compile_script("stream|from()|k8sAutoscale().replicas(lambda: 1)")
    with pytest.raises(InputError, match="min must be >= 1, got 0"):
        compile_script("stream|from()|ec2Autoscale().groupName('g').min(0).replicas(lambda: 1)")
    with pytest.raises(InputError, match="must provide a replicas lambda expression"):
        compile_script("stream|from()|swarmAutoscale().serviceName('s')")
