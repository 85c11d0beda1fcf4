"""Edge control: re-check, execute over OPC UA, read back, journal at most once, local trips."""

from .executor import Controller

__all__ = ["Controller"]
