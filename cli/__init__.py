"""egiz.cli."""
