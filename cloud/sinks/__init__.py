"""Optional sinks that copy what the cloud stores to other systems (InfluxDB for Grafana)."""
