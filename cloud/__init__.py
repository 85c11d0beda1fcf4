"""The cloud service: twin registry, idempotent ingest, fleet API and dashboard (FastAPI)."""
