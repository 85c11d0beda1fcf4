"""egiz.edge: the edge agent (sources → normalize → window → models → outbox → uplink)."""
