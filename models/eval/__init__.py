"""Evaluation on public benchmarks with their published protocols."""
