"""The Model contract on the shipped weights, and the loader for other plugins."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.server.plugin import LoadContext, Model
from kiln_classifier.artifacts import PARAMS_FILE


@pytest.mark.parametrize("batch", [1, 5, 16])
def test_predict_contract(shipped_model, split, batch: int) -> None:
    out = shipped_model.predict({"image": split.x_test[:batch]})
    assert set(out) == {"logits", "probabilities", "label"}
    assert out["logits"].shape == (batch, 10) and out["logits"].dtype == np.float32
    assert out["probabilities"].shape == (batch, 10)
    assert out["probabilities"].dtype == np.float32
    assert out["label"].shape == (batch,) and out["label"].dtype == np.int64
    assert all(isinstance(v, np.ndarray) for v in out.values())
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-5)
    assert (out["probabilities"] >= 0).all()
    np.testing.assert_array_equal(out["label"], out["logits"].argmax(axis=1))
    np.testing.assert_array_equal(out["label"], out["probabilities"].argmax(axis=1))


def test_is_a_kiln_model(shipped_model) -> None:
    assert isinstance(shipped_model, Model)


def test_shipped_weights_held_out_accuracy(shipped_model, split) -> None:
    labels = np.concatenate(
        [
            shipped_model.predict({"image": split.x_test[i : i + 16]})["label"]
            for i in range(0, len(split.y_test), 16)
        ]
    )
    accuracy = float(np.mean(labels == split.y_test))
    assert accuracy >= 0.985, f"held-out accuracy {accuracy:.4f}"


def test_load_classifier_matches_predict(shipped_model, split) -> None:
    from kiln_classifier.model import FEATURE_DIM
    from kiln_classifier.serving import load_classifier

    classifier = load_classifier()  # None: the shipped weights
    images = split.x_test[:6]
    probabilities = classifier.probabilities(images)
    features = classifier.features(images)
    assert isinstance(probabilities, np.ndarray) and isinstance(features, np.ndarray)
    assert probabilities.shape == (6, 10)
    assert features.shape == (6, FEATURE_DIM) == (6, classifier.feature_dim)
    assert (features >= 0).all()  # ReLU activations
    np.testing.assert_allclose(
        probabilities, shipped_model.predict({"image": images})["probabilities"], atol=1e-6
    )


def test_foreign_weights_are_rejected(tmp_path) -> None:
    import flax.serialization

    from kiln_classifier.serving import DigitsClassifier

    bogus = {"conv1": {"kernel": np.zeros((3, 3, 1, 4), np.float32)}}
    (tmp_path / PARAMS_FILE).write_bytes(flax.serialization.to_bytes(bogus))
    model = DigitsClassifier(LoadContext(tmp_path, "1", (1,)))
    with pytest.raises(ValueError):
        model.load()


def test_factory_is_cheap_and_predict_needs_load(tmp_path) -> None:
    from kiln_classifier.serving import DigitsClassifier

    # No weights there: the factory must not read them.
    model = DigitsClassifier(LoadContext(tmp_path, "1", (1,)))
    with pytest.raises(RuntimeError, match="before load"):
        model.predict({"image": np.zeros((1, 28, 28, 1), np.float32)})
