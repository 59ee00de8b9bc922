"""Shared fixtures: a fake numpy plugin (no JAX) and a real server on port 0."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kiln.server.plugin import ModelSpec, TensorSpec, hookimpl
from kiln.server.settings import KilnSettings
from kiln.server.testing import running_server

#: A value that makes the fake model raise inside predict (warm-up zeros never contain it).
POISON = -999.0


class ScaleModel:
    """doubled = 2 * x, total = row sums (float64); records every batch size it runs."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.batch_sizes: list[int] = []
        self.loaded = False

    def load(self) -> None:
        self.loaded = True

    def predict(self, inputs):
        x = inputs["x"]
        if (x == POISON).any():
            raise RuntimeError("secret internal detail that must not reach clients")
        self.batch_sizes.append(len(x))
        return {"doubled": x * 2, "total": x.sum(axis=1, dtype=np.float64)}

    def unload(self) -> None:
        self.loaded = False


class FailingLoadModel(ScaleModel):
    def load(self) -> None:
        raise OSError("weights file is corrupt")


class FakePlugin:
    """A plugin object registered directly (no entry point), as a test would."""

    poison = POISON

    def __init__(self) -> None:
        self.models: list[ScaleModel] = []
        self.load_gate = threading.Event()
        self.load_gate.set()

    def _make(self, ctx):
        self.load_gate.wait(30)
        model = ScaleModel(ctx)
        self.models.append(model)
        return model

    @hookimpl
    def kiln_model_specs(self):
        signature = dict(
            inputs=(TensorSpec("x", "float32", (-1, 3), "three numbers"),),
            outputs=(
                TensorSpec("doubled", "float32", (-1, 3)),
                TensorSpec("total", "float64", (-1,)),
            ),
        )
        yield ModelSpec(
            name="scale",
            description="Doubles its input.",
            factory=self._make,
            default_artifact=_artifact(),
            batch_buckets=(1, 4, 8),
            max_batch_size=8,
            **signature,
        )
        yield ModelSpec(
            name="broken",
            description="Fails to load.",
            factory=FailingLoadModel,
            default_artifact=_artifact(),
            **signature,
        )


def _artifact():
    from pathlib import Path

    return Path(__file__).parent / "data" / "fake-artifact" / "1"


@pytest.fixture
def fake_plugin() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def fake_server(fake_plugin):
    """A real server on port 0 serving only the fake plugin's models."""
    settings = KilnSettings(max_message_bytes=64 * 1024)
    with running_server(settings, plugins=[("fake", fake_plugin)], entry_points=False) as handle:
        yield handle
