"""The server's identity: cluster and server ids persisted in the data dir, as kapacitord does.

InfluxDB subscriptions are named after these ids (``kapfast-<id>``), so they must survive restarts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerIDs:
    cluster_id: str
    server_id: str


def _read_or_create(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if text:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass  # a damaged id file is replaced rather than trusted
    new = str(uuid.uuid4())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new)
    tmp.replace(path)  # atomic: a crash never leaves a half-written id
    return new


def load_ids(data_dir: Path) -> ServerIDs:
    data_dir.mkdir(parents=True, exist_ok=True)
    return ServerIDs(_read_or_create(data_dir / "cluster.id"), _read_or_create(data_dir / "server.id"))
