"""Fixtures shared by the GAN tests: CPU JAX, and the shipped generator loaded as Kiln would."""

from __future__ import annotations

import os

# Before anything imports JAX: the tests must not depend on (or grab) an accelerator.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest

from kiln.server.plugin import LoadContext
from kiln_gan.artifacts import default_artifact_dir

#: Buckets the shipped model is loaded with in tests (a subset keeps compilation short).
TEST_BUCKETS = (1, 8)


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped generator, loaded (and its buckets compiled) as Kiln would load it."""
    from kiln_gan.serving import DigitsGenerator

    model = DigitsGenerator(LoadContext(default_artifact_dir(), "1", TEST_BUCKETS))
    model.load()
    yield model
    model.unload()
