"""Errors of the cloud services; the API layer maps them to HTTP statuses."""

from __future__ import annotations

from egiz.contracts.errors import EgizError


class CloudError(EgizError):
    """Base of every error the cloud raises on purpose."""


class StoreError(CloudError):
    """The store cannot be opened or migrated (names the URL and the fix)."""


class Unauthorized(CloudError):
    """Missing, unknown, revoked or expired credentials (HTTP 401)."""


class Forbidden(CloudError):
    """Valid credentials that may not do this (HTTP 403)."""


class BadBatch(CloudError):
    """An ingest body that cannot be parsed at all (HTTP 422); nothing is stored."""


class BodyTooLarge(CloudError):
    """An ingest body larger than the configured limit (HTTP 413)."""


class NotFound(CloudError):
    """No such asset, edge or signal (HTTP 404)."""


class Conflict(CloudError):
    """The thing exists already (HTTP 409)."""


class InvalidInput(CloudError):
    """A request value that is not acceptable (HTTP 422), naming the value and the fix."""


class TooManyRequests(CloudError):
    """Rate limited (HTTP 429); ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
