"""The ``digits`` model spec and the plugin's registration."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from kiln.server.plugin import ModelSpec
from kiln_classifier import plugin
from kiln_classifier.artifacts import PARAMS_FILE, default_artifact_dir
from kiln_classifier.config import ClassifierTrainConfig


def _spec() -> ModelSpec:
    specs = list(plugin.kiln_model_specs())
    assert len(specs) == 1
    return specs[0]


def test_signature() -> None:
    spec = _spec()
    assert spec.name == "digits"
    assert [(t.name, t.dtype, t.shape) for t in spec.inputs] == [
        ("image", "float32", (-1, 28, 28, 1))
    ]
    assert [(t.name, t.dtype, t.shape) for t in spec.outputs] == [
        ("logits", "float32", (-1, 10)),
        ("probabilities", "float32", (-1, 10)),
        ("label", "int64", (-1,)),
    ]
    assert all(t.description for t in (*spec.inputs, *spec.outputs))


def test_entry_points_and_buckets() -> None:
    spec = _spec()
    assert spec.batch_buckets == plugin.BATCH_BUCKETS
    assert spec.max_batch_size == spec.batch_buckets[-1] == 64
    assert spec.config_model is ClassifierTrainConfig
    assert callable(spec.factory) and callable(spec.train) and callable(spec.evaluate)
    assert not spec.generative
    assert spec.default_artifact == default_artifact_dir()
    assert (spec.default_artifact / PARAMS_FILE).stat().st_size < 2_000_000


def test_registered_under_the_kiln_entry_point_group() -> None:
    targets = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="kiln")}
    assert targets.get("classifier") == "kiln_classifier.plugin"


def test_plugin_import_does_not_import_jax() -> None:
    # A fresh interpreter: this test process may already have imported JAX elsewhere.
    code = (
        "import sys, kiln_classifier.plugin as p; list(p.kiln_model_specs()); "
        "heavy = [m for m in ('jax', 'flax', 'optax', 'sklearn') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
