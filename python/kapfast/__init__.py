"""kapfast: a drop-in, much faster replacement for Kapacitor 1.x."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kapfast")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
