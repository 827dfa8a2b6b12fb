"""``[load]``: tasks, templates and topic handlers defined by files, as kapacitord's load service.

The load directory holds ``templates/*.tick``, ``tasks/*.tick`` (the task's dbrps come from its
``dbrp`` statements), ``tasks/*.json|yaml|yml`` (a task from a template:
``{"template-id", "dbrps", "vars"}``) and ``handlers/*.json|yaml|yml`` (topic handler specs
``{"topic", "id", "kind", "options", "match"}``). A file's name without its extension is the ID.
Loading creates what is missing and updates what exists; tasks end up enabled (and restarted
when they ran). Items that an earlier load defined and whose file is gone are deleted.

kapfast does better than Kapacitor in one way: Kapacitor stops at the first bad file, leaving the
rest unloaded; here every file is tried, each failure is logged with its file and counted, and an
item whose file failed to load keeps its previous definition rather than being deleted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.storage import Storage

log = logging.getLogger("kapfast.load")

SPEC_SUFFIXES = (".json", ".yaml", ".yml")


class _Resource(Protocol):
    def create(self, opts: dict[str, Any]) -> Any: ...
    def update(self, ident: str, opts: dict[str, Any]) -> Any: ...
    def delete(self, ident: str) -> None: ...


class TopicHandlers(Protocol):
    """What the load service needs of the alert topic handlers."""

    def put_handler(self, topic: str, spec: dict[str, Any]) -> Any: ...
    def delete_handler(self, topic: str, handler_id: str) -> None: ...


@dataclass
class LoadResult:
    loaded: list[str] = field(default_factory=list)  # "tasks/cpu", "templates/t", "handlers/topic/id"
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_spec(path: Path) -> dict[str, Any]:
    """A JSON or YAML object file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise RequestError(f"failed to unmarshal json file: {exc}") from None
    else:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RequestError(f"failed to unmarshal yaml file: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestError("expected an object")
    return doc


class LoadService:
    def __init__(
        self,
        directory: Path,
        storage: Storage,
        tasks: _Resource,
        templates: _Resource,
        handlers: TopicHandlers | None = None,
    ) -> None:
        self.dir = directory
        self.storage = storage
        self.tasks = tasks
        self.templates = templates
        self.handlers = handlers
        self.errors = 0  # failures over the server's life (the ``load`` statistic)

    def load(self) -> LoadResult:
        """Load the directory once (at start and on SIGHUP)."""
        res = LoadResult()
        if not self.dir.is_dir():
            log.debug("skipping load: the load directory %s does not exist", self.dir)
            return res
        # Templates first: tasks may be made from them.
        seen_templates = self._each("templates", (".tick",), self._template, res)
        seen_tasks = self._each("tasks", (".tick", *SPEC_SUFFIXES), self._task, res)
        seen_handlers = self._each("handlers", SPEC_SUFFIXES, self._handler, res)
        self._remove("tasks", seen_tasks, self.tasks.delete, res)
        self._remove("templates", seen_templates, self.templates.delete, res)
        if self.handlers is not None:
            handlers = self.handlers
            self._remove("handlers", seen_handlers, lambda i: handlers.delete_handler(*i.split("/", 1)), res)
        self.errors += len(res.errors)
        return res

    def _each(
        self,
        kind: str,
        suffixes: tuple[str, ...],
        load_one: Callable[[Path], str],
        res: LoadResult,
    ) -> set[str]:
        """Load every file of ``<dir>/<kind>``; returns the IDs present (loaded or failed)."""
        seen: set[str] = set()
        folder = self.dir / kind
        if not folder.is_dir():
            return seen
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.suffix not in suffixes:
                continue
            log.info("loading %s from %s", kind[:-1], path)
            try:
                ident = load_one(path)
            except (KapfastError, OSError, UnicodeDecodeError) as exc:
                res.errors.append(f"failed to load file {path}: {exc}")
                log.error("failed to load file %s: %s", path, exc)
                if kind == "handlers":
                    seen.add(f"?{path}")
                    continue
                seen.add(path.stem)
                store = self.storage.tasks if kind == "tasks" else self.storage.templates
                if store.exists(path.stem):  # defined but e.g. failed to start: still ours
                    self.storage.load_items.add(kind, path.stem)
                continue
            seen.add(ident)
            self.storage.load_items.add(kind, ident)
            res.loaded.append(f"{kind}/{ident}")
        return seen

    def _remove(self, kind: str, seen: set[str], delete: Callable[[str], None], res: LoadResult) -> None:
        if any(s.startswith("?") for s in seen) and kind == "handlers":
            return  # a handler file failed to parse: we cannot tell which handler it held
        for ident in self.storage.load_items.ids(kind):
            if ident in seen:
                continue
            try:
                delete(ident)
            except NotFoundError:
                pass
            except KapfastError as exc:
                res.errors.append(f"failed to remove {kind[:-1]} {ident}: {exc}")
                continue
            self.storage.load_items.remove(kind, ident)
            res.removed.append(f"{kind}/{ident}")
            log.info("removed %s %s: its file is gone from the load directory", kind[:-1], ident)

    def _template(self, path: Path) -> str:
        ident = path.stem
        script = path.read_text(encoding="utf-8")
        if self.storage.templates.exists(ident):
            self.templates.update(ident, {"script": script})
        else:
            self.templates.create({"id": ident, "script": script})
        return ident

    def _task(self, path: Path) -> str:
        ident = path.stem
        if path.suffix == ".tick":
            opts: dict[str, Any] = {"script": path.read_text(encoding="utf-8")}
        else:
            spec = read_spec(path)
            opts = {k: spec[k] for k in ("template-id", "dbrps", "vars") if k in spec}
            if not opts.get("template-id"):
                raise RequestError("a task file needs a template-id (or write the task as a .tick file)")
        if self.storage.tasks.exists(ident):
            self.tasks.update(ident, {**opts, "status": "disabled"})
            self.tasks.update(ident, {"status": "enabled"})
        else:
            self.tasks.create({"id": ident, **opts, "status": "enabled"})
        return ident

    def _handler(self, path: Path) -> str:
        if self.handlers is None:
            raise RequestError("topic handlers are not available in this server")
        spec = read_spec(path)
        topic, hid = spec.get("topic"), spec.get("id")
        if not isinstance(topic, str) or not topic or not isinstance(hid, str) or not hid:
            raise RequestError("a handler file needs a topic and an id")
        self.handlers.put_handler(topic, spec)
        return f"{topic}/{hid}"


__all__ = ["LoadResult", "LoadService", "TopicHandlers", "read_spec"]
