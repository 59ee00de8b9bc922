"""Fixtures shared by the classifier tests: CPU JAX, the data split, the shipped model."""

from __future__ import annotations

import os

# Before anything imports JAX: the tests must not depend on (or grab) an accelerator.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest

from kiln.server.plugin import LoadContext
from kiln_classifier.artifacts import default_artifact_dir
from kiln_classifier.data import DigitsSplit, load_split

#: Buckets the shipped model is loaded with in tests (a subset keeps compilation short).
TEST_BUCKETS = (1, 6, 16)


@pytest.fixture(scope="session")
def split() -> DigitsSplit:
    """The default train/test split."""
    return load_split()


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped weights, loaded as Kiln would load them."""
    from kiln_classifier.serving import DigitsClassifier

    model = DigitsClassifier(LoadContext(default_artifact_dir(), "1", TEST_BUCKETS))
    model.load()
    yield model
    model.unload()
