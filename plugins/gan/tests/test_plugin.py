"""The plugin's spec, its entry point, and that discovery imports no JAX."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from kiln_gan.artifacts import GENERATOR_FILE, default_artifact_dir
from kiln_gan.plugin import kiln_model_specs
from kiln_gan.training import GanTrainConfig


def test_spec() -> None:
    (spec,) = list(kiln_model_specs())
    assert spec.name == "digits-gan"
    assert spec.generative
    assert [(t.name, t.dtype, t.shape) for t in spec.inputs] == [("z", "float32", (-1, 100))]
    assert [(t.name, t.dtype, t.shape) for t in spec.outputs] == [
        ("images", "float32", (-1, 28, 28, 1))
    ]
    assert spec.config_model is GanTrainConfig
    assert spec.train is not None and spec.evaluate is not None
    assert spec.default_artifact == default_artifact_dir()
    assert spec.max_batch_size == spec.batch_buckets[-1]
    assert 4 <= len(spec.batch_buckets) <= 6


def test_shipped_weights_are_small() -> None:
    weights = default_artifact_dir() / GENERATOR_FILE
    assert 0 < weights.stat().st_size < 3_000_000


def test_entry_point_is_registered() -> None:
    (ep,) = [ep for ep in entry_points(group="kiln") if ep.name == "gan"]
    assert ep.value == "kiln_gan.plugin"


def test_discovery_imports_no_jax() -> None:
    code = (
        "import sys, kiln_gan.plugin as p; list(p.kiln_model_specs()); "
        "bad = [m for m in ('jax', 'flax', 'optax') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
