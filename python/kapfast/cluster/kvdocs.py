"""Documents kept in a NATS KV bucket one per key, ``<kind>.<hex id>`` (any id is a valid key
that way), and the first read of such a bucket by a node: the control plane's definitions
(control.py), the recordings and replays (recordings.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

#: the operations of a KV entry that remove its key
DELETES = ("DEL", "PURGE")


def key(kind: str, ident: str) -> str:
    return f"{kind}.{ident.encode().hex()}"


def ident_of(k: str) -> tuple[str, str]:
    """(kind, id) of a key; ValueError for a key not made by :func:`key`."""
    kind, _, hexid = k.partition(".")
    return kind, bytes.fromhex(hexid).decode()


def encode(doc: dict[str, Any]) -> bytes:
    """One form per document: equal documents are equal bytes (a change equal to what the
    bucket holds is not sent again)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


async def bucket(js: JetStreamContext, name: str, replicas: int) -> KeyValue:
    """The bucket (the first node creates it)."""
    try:
        return await js.key_value(name)
    except (NotFoundError, BucketNotFoundError):
        return await js.create_key_value(config=KeyValueConfig(bucket=name, history=1, replicas=replicas))


Apply = Callable[[str, bytes | None, str | None], Awaitable[None] | None]


async def read_all(kv: KeyValue, apply: Apply) -> tuple[Any, set[str]]:
    """Every key of the bucket as it is (deleted ones with their delete marker) through
    ``apply(key, value, operation)``; the watcher, which goes on with the changes from then on,
    and the keys seen."""
    watcher = await kv.watchall()
    seen: set[str] = set()
    async for entry in watcher:  # the bucket as it is, then None
        if entry is None:
            break
        seen.add(entry.key)
        done = apply(entry.key, entry.value, entry.operation)
        if done is not None:
            await done
    return watcher, seen
