"""egiz.edge."""
