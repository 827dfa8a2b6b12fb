"""Stateful per-group nodes."""
