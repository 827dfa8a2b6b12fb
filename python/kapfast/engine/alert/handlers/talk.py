"""``.talk()`` and the ``talk`` topic handler: a Talk (jianliao.com) incoming webhook, as
Kapacitor's services/talk sends it: a POST to the section's ``url`` of ``{"authorName":AUTHOR,
"text":MESSAGE,"title":ID}`` (sorted keys, a newline at the end). Only 200 is success."""

from __future__ import annotations

from typing import Any

from kapfast.engine.alert.handlers.base import BuildContext, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import json_encode


class TalkService(WebService):
    kind = "talk"
    title = "Talk"

    def alert(self, title: str, text: str) -> None:
        self.require_enabled()
        body = {"title": title, "text": text, "authorName": self.c.author_name}
        reply = self.post(
            self.c.url, (json_encode(body) + "\n").encode(), {"Content-Type": "application/json"}
        )
        self.check(reply, (200,), key="error")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    return ServiceHandler("talk", ctx.service, lambda s, e: s.alert(e.id, e.message))


def _validate(c: Any) -> None:
    if c.enabled and not c.url:
        raise ConfigError("[talk] must specify url")


def _test(service: TalkService, o: Options) -> None:
    service.alert(o.text("title"), o.text("text"))


IMPL = HandlerImpl(
    build=_build,
    service=TalkService,
    validate=_validate,
    test_options=lambda service: {"title": "testTitle", "text": "test talk text"},
    test=_test,
)
