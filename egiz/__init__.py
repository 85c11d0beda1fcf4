"""Egiz: an open-source digital-twin monitoring platform for industrial sites."""

__version__ = "0.1.0"
