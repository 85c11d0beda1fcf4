"""Settings of the cloud service: one frozen model, passed to ``create_app``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .notify import WebhookConfig


class CloudSettings(BaseModel):
    """Everything `create_app` needs; no environment lookups at import time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_url: str = Field(
        "sqlite:///var/cloud.db",
        description="sqlite:///path (embedded default) or postgresql://user@host:port/db",
    )
    title: str = "Egiz cloud"
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="largest (decompressed) ingest body accepted"
    )
    dashboard_poll_s: float = Field(2.0, gt=0, description="how often the dashboard refreshes")
    token_ttl_s: float = Field(12 * 3600.0, gt=0, description="lifetime of a user's bearer token")
    metrics_token: SecretStr | None = Field(
        None, description="static bearer token a Prometheus scraper may use for /metrics"
    )
    maintenance_interval_s: float | None = Field(
        30.0, gt=0, description="how often rollups and retention run; None: never (tests)"
    )
    retention_s: dict[int, float | None] = Field(
        default_factory=lambda: {0: 30 * 86400.0, 60: 400 * 86400.0, 3600: None},
        description="keep per tier (0 = raw windows, 60, 3600), seconds of wall clock; None: forever",
    )
    influx_url: str | None = Field(
        None, description="InfluxDB 2 (or compatible) URL to copy window summaries to; None: off"
    )
    influx_token: SecretStr | None = None
    influx_org: str = "egiz"
    influx_bucket: str = "egiz"
    webhooks: tuple[WebhookConfig, ...] = Field(
        (),
        description="receivers of alarm raise/clear/ack notifications (signed, retried from a "
        "durable outbox in the store, at least once, bounded per hook by max_pending)",
    )
    docs: bool = Field(True, description="serve Swagger UI at /docs (assets from the package)")
