"""Kiln: a gRPC model server for JAX/Flax models."""

__version__ = "0.1.0"
