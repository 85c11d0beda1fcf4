"""Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and Jitter")."""

from __future__ import annotations

import random

from egiz.contracts import Backoff


class Retry:
    """Delays for consecutive failures: uniform(0, min(max, initial * factor**n))."""

    def __init__(self, policy: Backoff, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Return how long to wait after one more failure."""
        p = self.policy
        cap = min(p.max_s, p.initial_s * p.factor**self.failures)
        self.failures += 1
        # Full jitter spreads a fleet of edges reconnecting after a shared outage; a small floor
        # keeps a tight loop from spinning when the random draw is near zero.
        return max(0.05, self._rng.uniform(0.0, cap))

    def reset(self) -> None:
        """Forget past failures after a success."""
        self.failures = 0
