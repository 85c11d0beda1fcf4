"""Cloud services: plain functions over a Store, with no FastAPI import (usable from the CLI)."""
