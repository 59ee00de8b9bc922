"""A real (tiny) training run end to end, and the configuration model."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pydantic import ValidationError

from kiln.server.plugin import LoadContext, TrainContext
from kiln_gan.artifacts import GENERATOR_FILE, SAMPLES_DIR
from kiln_gan.training import GanTrainConfig, train


def test_config_rejects_unknown_and_bad_fields() -> None:
    with pytest.raises(ValidationError):
        GanTrainConfig(epoch=3)  # misspelt
    with pytest.raises(ValidationError):
        GanTrainConfig(batch_size=0)
    assert GanTrainConfig().model_dump()["epochs"] >= 1


def test_one_epoch_trains_saves_and_serves(tmp_path) -> None:
    config = GanTrainConfig(
        epochs=1, batch_size=64, generator_channels=8, discriminator_channels=4, eval_samples=200
    )
    lines: list[str] = []
    started = time.perf_counter()
    result = train(TrainContext(output_dir=tmp_path, config=config, progress=lines.append))
    elapsed = time.perf_counter() - started

    assert any(line.startswith("epoch 1/1 d_loss ") and " g_loss " in line for line in lines)
    assert (tmp_path / SAMPLES_DIR / "epoch-001.png").read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob("*discriminator*"))  # only the generator is served
    assert result.config["epochs"] == 1
    assert len(result.data_fingerprint) == 64
    assert set(result.metrics) >= {"inception_score", "frechet_distance", "min_class_fraction"}
    assert all(np.isfinite(v) for v in result.metrics.values())

    # The written weights load into the served model.
    from kiln_gan.serving import DigitsGenerator

    model = DigitsGenerator(LoadContext(tmp_path, "1", (2,)))
    model.load()
    images = model.predict({"z": np.zeros((2, 100), np.float32)})["images"]
    assert images.shape == (2, 28, 28, 1)
    assert (tmp_path / GENERATOR_FILE).stat().st_size < 3_000_000
    print(f"1-epoch training run: {elapsed:.1f} s")


def test_augment_shifts_by_whole_cells_and_keeps_shape() -> None:
    import jax
    import jax.numpy as jnp

    from kiln_gan.training import augment

    image = jnp.full((1, 28, 28, 1), -1.0).at[0, 14, 14, 0].set(1.0)
    images = jnp.repeat(image, 64, axis=0)
    shifted = np.asarray(augment(images, jax.random.key(0), shift=1, noise=0.0))
    assert shifted.shape == images.shape
    rows, cols = np.nonzero(shifted[..., 0] == 1.0)[1:]
    # Every shift is a whole 3-pixel cell in each direction, and all nine occur.
    assert set((rows - 14).tolist()) == {-3, 0, 3} and set((cols - 14).tolist()) == {-3, 0, 3}
    assert np.array_equal(np.asarray(augment(images, jax.random.key(0), 0, 0.0)), images)
