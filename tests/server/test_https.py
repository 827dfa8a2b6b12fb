"""HTTPS (a self-signed certificate made here), the CLI's -skipVerify and credentials in -url, and
kapfastd -disable-handlers."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kapfastd_proc import Kapfastd

from kapfast import config, daemon
from kapfast.errors import ConfigError


def self_signed(directory: Path, *, separate_key: bool = False) -> tuple[Path, Path | None]:
    """A certificate for 127.0.0.1 and its key: one PEM file (Kapacitor's default) or two."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if separate_key:
        (directory / "cert.pem").write_bytes(cert_pem)
        (directory / "key.pem").write_bytes(key_pem)
        return directory / "cert.pem", directory / "key.pem"
    (directory / "kapacitor.pem").write_bytes(cert_pem + key_pem)
    return directory / "kapacitor.pem", None


def kapfast(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    return subprocess.run(
        [sys.executable, "-m", "kapfast.cli.main", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize("separate_key", [False, True])
def test_https_with_a_self_signed_certificate(
    tmp_path: Path, kapfastd_factory: Callable[..., Kapfastd], separate_key: bool
) -> None:
    cert, key = self_signed(tmp_path, separate_key=separate_key)
    options = f'  https-enabled = true\n  https-certificate = "{cert}"\n'
    if key is not None:
        options += f'  https-private-key = "{key}"\n'
    k = kapfastd_factory(http_options=options, start=False)
    k.scheme = "https"
    k.start()
    assert k.request("GET", "/kapacitor/v1/ping").status == 204
    url = k.url
    ok = kapfast("-url", url, "-skipVerify", "list", "tasks")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ID")
    refused = kapfast("-url", url, "list", "tasks")  # a self-signed certificate is not trusted
    assert refused.returncode != 0 and "certificate" in refused.stderr.lower()


def test_a_missing_certificate_is_a_clear_error(tmp_path: Path) -> None:
    cfg, _ = config.from_mapping(
        {"http": {"https-enabled": True, "https-certificate": str(tmp_path / "no.pem")}}
    )
    with pytest.raises(ConfigError, match=r"https-certificate .*no\.pem.*cannot load"):
        daemon.server_ssl_context(cfg)
    cfg.http.https_enabled = False
    assert daemon.server_ssl_context(cfg) is None


def test_cli_takes_credentials_in_the_url(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(http_options="  auth-enabled = true\n")  # [auth] off: any user is an admin
    host = k.url.removeprefix("http://")
    ok = kapfast("-url", f"http://someone:secret@{host}", "list", "tasks")
    assert ok.returncode == 0, ok.stderr
    denied = kapfast("-url", k.url, "list", "tasks")
    assert denied.returncode != 0 and "unable to parse authentication credentials" in denied.stderr
    via_env = subprocess.run(
        [sys.executable, "-m", "kapfast.cli.main", "list", "tasks"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KAPACITOR_URL": f"http://someone:secret@{host}"},
    )
    assert via_env.returncode == 0, via_env.stderr


EXEC_TASK = """stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "v" > 1)
        .exec('/bin/touch', '{path}')
"""
LOG_TASK = """stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "v" > 1)
        .log('{path}')
"""


def test_disable_handlers(tmp_path: Path, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(start=False)
    k.args = ["-disable-handlers", "exec,log"]
    k.start()
    body = {"id": "t", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "status": "enabled"}
    for script in (EXEC_TASK, LOG_TASK):
        ans = k.api("POST", "/tasks", {**body, "script": script.format(path=tmp_path / "x")})
        assert ans.status == 400, ans
        assert "alert handler is disabled on this server" in ans.json()["error"]
    for kind, options in (("exec", {"prog": "/bin/true"}), ("log", {"path": str(tmp_path / "l")})):
        ans = k.api("POST", "/alerts/topics/t/handlers", {"id": kind, "kind": kind, "options": options})
        assert ans.status == 400 and "disabled" in ans.json()["error"], ans
    # other handlers keep working
    post = k.api(
        "POST", "/alerts/topics/t/handlers", {"id": "p", "kind": "tcp", "options": {"address": "127.0.0.1:1"}}
    )
    assert post.status == 200, post
    ok = LOG_TASK.replace(".log('{path}')", ".tcp('127.0.0.1:1')")
    assert k.api("POST", "/tasks", {**body, "script": ok}).status == 200


def test_disable_handlers_names_known_kinds_only() -> None:
    assert daemon._disabled_handlers("exec, Log,pagerduty2") == {"exec", "log", "pagerduty2"}
    with pytest.raises(ConfigError, match="unknown alert handler kind"):
        daemon._disabled_handlers("exex")


def test_warns_loudly_when_exposed_without_auth(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = config.from_mapping({"http": {"bind-address": ":9092"}})
    with caplog.at_level(logging.WARNING, logger="kapfastd"):
        daemon._warn_if_exposed(cfg)
    assert "SECURITY WARNING" in capsys.readouterr().err
    assert "every interface" in caplog.text
    caplog.clear()
    for bind, auth in (
        ("127.0.0.1:9092", False),
        ("localhost:9092", False),
        ("[::1]:9092", False),
        (":9092", True),
    ):
        cfg, _ = config.from_mapping({"http": {"bind-address": bind, "auth-enabled": auth}})
        daemon._warn_if_exposed(cfg)
    assert "SECURITY WARNING" not in capsys.readouterr().err
    cfg, _ = config.from_mapping({"http": {"bind-address": "10.1.2.3:9092"}})
    daemon._warn_if_exposed(cfg)
    assert "10.1.2.3" in capsys.readouterr().err
