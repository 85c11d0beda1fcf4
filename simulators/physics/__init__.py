"""Vectorized asset physics: one call advances every asset of a type over a block of steps."""
