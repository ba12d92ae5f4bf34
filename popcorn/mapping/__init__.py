"""Mapping: folding (PE x SIMD), ROM images, widths and cycle predictions per layer."""
