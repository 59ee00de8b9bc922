"""Real training runs on the digits data."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kiln.server.plugin import LoadContext, TrainContext, TrainResult
from kiln_classifier.artifacts import PARAMS_FILE
from kiln_classifier.data import fingerprint
from kiln_classifier.training import ClassifierTrainConfig, random_shift, train

EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+) loss \d+\.\d+ train_acc [01]\.\d+ test_acc [01]\.\d+$")


def test_short_training_run(tmp_path, split) -> None:
    from kiln_classifier.serving import DigitsClassifier

    lines: list[str] = []
    config = ClassifierTrainConfig(epochs=2)
    result = train(TrainContext(output_dir=tmp_path, config=config, progress=lines.append))

    assert isinstance(result, TrainResult)
    assert result.config == config.model_dump()
    assert result.data_fingerprint == fingerprint(split)
    assert result.metrics["accuracy"] > 0.8
    assert all(isinstance(v, float) for v in result.metrics.values())
    assert [EPOCH_LINE.match(line).groups() for line in lines] == [("1", "2"), ("2", "2")]

    # The written weights serve, and agree with the reported accuracy.
    assert (tmp_path / PARAMS_FILE).is_file()
    model = DigitsClassifier(LoadContext(tmp_path, "1", (len(split.y_test),)))
    model.load()
    labels = model.predict({"image": split.x_test})["label"]
    assert float(np.mean(labels == split.y_test)) == pytest.approx(result.metrics["accuracy"])


def test_config_accepts_plain_values_and_validates() -> None:
    config = ClassifierTrainConfig.model_validate({"epochs": 3, "shift_pixels": 0})
    assert config.epochs == 3 and config.shift_pixels == 0
    with pytest.raises(ValueError):
        ClassifierTrainConfig(epochs=0)
    with pytest.raises(ValueError):
        ClassifierTrainConfig(unknown=1)


def test_random_shift_translates_without_wrapping() -> None:
    images = jnp.zeros((64, 28, 28, 1)).at[:, 10:18, 10:18, :].set(1.0)
    shifted = np.asarray(random_shift(jax.random.key(0), images, 2))
    assert shifted.shape == images.shape
    # Content away from the border is moved, never cut or wrapped.
    np.testing.assert_array_equal(shifted.sum(axis=(1, 2, 3)), 64.0)
    rows = [np.nonzero(s[:, :, 0].any(axis=1))[0][0] for s in shifted]
    assert set(rows) <= set(range(8, 13)) and len(set(rows)) > 1
    edge = jnp.ones((1, 28, 28, 1))
    assert float(random_shift(jax.random.key(1), edge, 2).sum()) <= 28 * 28
    np.testing.assert_array_equal(random_shift(jax.random.key(0), images, 0), images)


@pytest.mark.slow
def test_default_config_reaches_target_accuracy(tmp_path) -> None:
    lines: list[str] = []
    result = train(TrainContext(output_dir=tmp_path, config=None, progress=lines.append))
    assert result.config == ClassifierTrainConfig().model_dump()
    assert len(lines) == ClassifierTrainConfig().epochs
    assert result.metrics["accuracy"] >= 0.985
