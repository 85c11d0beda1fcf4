"""HTTP layer: one router per resource, dependencies in ``deps``."""
