"""egiz.cloud."""
