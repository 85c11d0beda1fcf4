"""Model artifacts: plain arrays + JSON with a sha256 manifest, and a numpy-only runtime."""
