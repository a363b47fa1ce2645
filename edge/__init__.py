"""edge-counter box runtime: capture -> detect -> track -> count -> buffer."""

__version__ = "0.1.0"
