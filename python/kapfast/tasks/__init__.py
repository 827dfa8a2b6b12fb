"""Task definitions (service), templates, recordings and replays, and their storage. The task master
that runs tasks is `kapfast.engine.master`."""
