"""Kiln plugin providing ``digits``: a small Flax CNN trained on scikit-learn's digits.

The package imports nothing heavy: `kiln_classifier.plugin` is what Kiln loads, and the
JAX-based modules (`model`, `training`, `evaluation`, `serving`) are imported on demand.
"""
