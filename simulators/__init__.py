"""egiz.simulators."""
