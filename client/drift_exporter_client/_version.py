"""The client distribution's version: its own, not the sidecar's (the User-Agent carries it)."""

__version__ = "0.1.0"
