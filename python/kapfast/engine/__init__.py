"""The task engine: runs compiled pipelines on columnar chunks (see docs/engine.md)."""
