"""Amaranth 0.5 components of the accelerators."""
