"""kapfastd's web page (``/ui``): tasks, their pipelines with live statistics, alert topics,
recordings and replays. Server-rendered HTML plus one small hand-written script (static/ui.js);
the routes are in :mod:`kapfast.server.ui.routes`."""
