"""What a request for the web page needs with ``[http] auth-enabled``: read privilege on the API
resources the page shows (a user who may not read ``/api/tasks`` sees no task page either)."""

from __future__ import annotations

UI = "/ui"
#: the header the page script sends with its API calls, so that their 401s challenge the browser
UI_HEADER = "X-Kapfast-UI"
REALM = 'Basic realm="kapfast", charset="UTF-8"'


def api_paths(path: str) -> tuple[str, ...]:
    """The API paths (relative to /kapacitor/v1) whose read privilege ``path`` needs; none for the
    page's static files (they hold no data, but still need credentials)."""
    rest = path[len(UI) :].lstrip("/")
    if rest.startswith("static/"):
        return ()
    if rest.startswith("topics"):
        return ("/alerts" + "/" + rest,)
    if rest.startswith("recordings"):
        return ("/recordings", "/replays")
    if rest.startswith("tasks/"):
        return ("/" + rest,)
    return ("/tasks",)


def is_ui(path: str) -> bool:
    return path == UI or path.startswith(UI + "/")
