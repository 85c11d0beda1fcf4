"""Errors of the modeling layer (callers translate them into their own error tree)."""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error the modeling layer raises on purpose."""


class ArtifactError(ModelError):
    """An artifact is missing, malformed, altered, or not the one that was pinned."""
