"""Shared fixtures: a fake numpy plugin (no JAX) and a real server on port 0."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kiln.server.plugin import ModelSpec, TensorSpec, hookimpl
from kiln.server.settings import BatchingSettings, KilnSettings
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


class NoiseModel(ScaleModel):
    """A generative fake: sample i of seed s is [s, i, i*i]; each chunk takes `chunk_seconds`."""

    chunk_seconds = 0.05

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.chunks_computed = 0

    def generate(self, request):
        for start in range(0, request.count, request.chunk_size):
            stop = min(start + request.chunk_size, request.count)
            time.sleep(self.chunk_seconds)
            self.chunks_computed += 1
            i = np.arange(start, stop, dtype=np.float32)
            yield np.stack([np.full_like(i, request.seed), i, i * i], axis=1)

    def samples_to_png(self, samples):
        return [b"\x89PNG fake " + row.tobytes() for row in samples]


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

    def _make_noise(self, ctx):
        model = NoiseModel(ctx)
        self.models.append(model)
        return model

    def model(self, cls):
        """The (single) loaded instance of a fake model class."""
        (found,) = [m for m in self.models if type(m) is cls]
        return found

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
            name="noise",
            description="Generates deterministic fake samples.",
            factory=self._make_noise,
            default_artifact=_artifact(),
            generative=True,
            batch_buckets=(1, 4),
            max_batch_size=4,
            **signature,
        )
        yield ModelSpec(
            name="broken",
            description="Fails to load.",
            factory=FailingLoadModel,
            default_artifact=_artifact(),
            **signature,
        )


class MixedModel:
    """Typed fake for the OIP tests: int64, float16, bool and bfloat16 tensors.

    ids_sum = row sums of ``ids``; half_doubled = 2 * ``half``; positive = ``half`` > 0;
    half_bf16 = ``half`` as bfloat16.
    """

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    def load(self) -> None:
        pass

    def predict(self, inputs):
        import ml_dtypes

        half = inputs["half"]
        return {
            "ids_sum": inputs["ids"].sum(axis=1),
            "half_doubled": half * 2,
            "positive": half > 0,
            "half_bf16": half.astype(ml_dtypes.bfloat16),
        }

    def unload(self) -> None:
        pass


class MixedPlugin:
    """A second fake plugin (the `mixed` model), served only by `oip_server`."""

    @hookimpl
    def kiln_model_specs(self):
        yield ModelSpec(
            name="mixed",
            description="Sums int64 rows and doubles float16 values.",
            inputs=(
                TensorSpec("ids", "int64", (-1, 2)),
                TensorSpec("half", "float16", (-1, 2)),
            ),
            outputs=(
                TensorSpec("ids_sum", "int64", (-1,)),
                TensorSpec("half_doubled", "float16", (-1, 2)),
                TensorSpec("positive", "bool", (-1, 2)),
                TensorSpec("half_bf16", "bfloat16", (-1, 2)),
            ),
            factory=MixedModel,
            default_artifact=_artifact(),
            batch_buckets=(1, 4),
            max_batch_size=4,
        )


def _artifact():
    from pathlib import Path

    return Path(__file__).parent / "tests" / "data" / "fake-artifact" / "1"


@pytest.fixture
def fake_plugin() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def noise_model_class():
    return NoiseModel


@pytest.fixture
def scale_model_class():
    return ScaleModel


@pytest.fixture
def fake_server(fake_plugin):
    """A real server on port 0 serving only the fake plugin's models.

    The fake "scale" model answers in microseconds, so with the default delay of 0 requests
    would rarely meet in the queue; a 5 ms delay makes the batching tests deterministic.
    """
    settings = KilnSettings(
        max_message_bytes=64 * 1024,
        max_generate_count=1000,
        max_chunk_size=50,
        model_batching={"scale": BatchingSettings(max_queue_delay_us=5000)},
    )
    with running_server(settings, plugins=[("fake", fake_plugin)], entry_points=False) as handle:
        yield handle


@pytest.fixture(scope="module")
def oip_server():
    """Like `fake_server`, plus the `mixed` model (int64/float16/bool/bfloat16 tensors).

    One server per test module: its tests share the models' state and statistics.
    """
    settings = KilnSettings(
        max_message_bytes=64 * 1024,
        max_generate_count=1000,
        max_chunk_size=50,
        model_batching={
            name: BatchingSettings(max_queue_delay_us=1500) for name in ("noise", "scale")
        },
    )
    plugins = [("fake", FakePlugin()), ("mixed", MixedPlugin())]
    with running_server(settings, plugins=plugins, entry_points=False) as handle:
        yield handle
