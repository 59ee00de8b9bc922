"""Kiln plugin providing ``digits-gan``: a DCGAN that draws 28x28 digits.

Modules: `model` (networks), `training` (``kiln train``), `evaluation` (``kiln evaluate``),
`serving` (the served model), `imaging` (PNG helpers), `plugin` (the Kiln hook).
Importing this package imports no JAX.
"""

__version__ = "0.1.0"
