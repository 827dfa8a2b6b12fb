"""Which topic names and handler ids Kapacitor accepts."""

from __future__ import annotations


def _valid_name(text: str, extra: str) -> bool:
    # Kapacitor: ^[-\\._\\p{L}0-9]+$ (ids) and ^[-:\\._\\p{L}0-9]+$ (topics)
    return bool(text) and all(ch.isalpha() or ch in "0123456789" or ch in extra for ch in text)


def valid_handler_id(text: str) -> bool:
    return _valid_name(text, "-._")


def valid_topic(text: str) -> bool:
    return _valid_name(text, "-:._")
