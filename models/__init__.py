"""egiz.models."""
