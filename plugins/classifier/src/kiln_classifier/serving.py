"""Serving of the digits CNN: the `Model` Kiln calls, and a loader for other plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from kiln.server.plugin import LoadContext
from kiln_classifier.artifacts import PARAMS_FILE, default_artifact_dir
from kiln_classifier.data import IMAGE_SIZE
from kiln_classifier.model import FEATURE_DIM, DigitsCNN, abstract_params

__all__ = [
    "ClassifierFunctions",
    "DigitsClassifier",
    "default_artifact_dir",
    "load_classifier",
    "load_params",
]


def load_params(artifact_dir: Path, model: DigitsCNN) -> dict:
    """Read ``params.msgpack`` from `artifact_dir`, checked against `model`'s parameters.

    Raises:
        FileNotFoundError: The directory has no ``params.msgpack``.
        ValueError: The file does not hold parameters of this architecture.
    """
    template = abstract_params(model)
    restored = flax.serialization.from_bytes(template, (artifact_dir / PARAMS_FILE).read_bytes())
    # from_bytes matches the tree structure only; a wrong shape would surface later as an
    # obscure XLA error, so compare leaf by leaf here.
    expected = jax.tree.map(lambda a: (a.shape, np.dtype(a.dtype)), template)
    actual = jax.tree.map(lambda a: (np.shape(a), np.asarray(a).dtype), restored)
    if expected != actual:
        raise ValueError(f"{artifact_dir / PARAMS_FILE}: parameters do not fit DigitsCNN")
    return jax.device_put(restored)


class DigitsClassifier:
    """The `digits` model: images [N, 28, 28, 1] in, logits, probabilities and label out."""

    def __init__(self, ctx: LoadContext) -> None:
        """Remember where the weights are; nothing is read or compiled until `load`."""
        self._ctx = ctx
        self._params: dict | None = None
        self._forward: Callable | None = None

    def load(self) -> None:
        """Read the weights and compile the forward pass for each batch bucket."""
        model = DigitsCNN()
        self._params = load_params(self._ctx.artifact_dir, model)

        @jax.jit
        def forward(params, images):
            logits = model.apply({"params": params}, images)
            return logits, jax.nn.softmax(logits), jnp.argmax(logits, axis=-1)

        self._forward = forward
        # Compile now, so the first request of each bucket size does not pay for it.
        for size in self._ctx.batch_buckets:
            jax.block_until_ready(
                forward(self._params, jnp.zeros((size, IMAGE_SIZE, IMAGE_SIZE, 1)))
            )

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Classify one batch: ``{"image": float32 [N, 28, 28, 1]}``."""
        if self._forward is None:
            raise RuntimeError("predict called before load")
        images = np.asarray(inputs["image"], dtype=np.float32)
        logits, probabilities, label = self._forward(self._params, images)
        return {
            "logits": np.asarray(logits, dtype=np.float32),
            "probabilities": np.asarray(probabilities, dtype=np.float32),
            # JAX computes in 32 bits by default; the signature promises int64.
            "label": np.asarray(label).astype(np.int64),
        }

    def unload(self) -> None:
        """Drop the weights and the compiled function."""
        self._params = None
        self._forward = None


@dataclass(frozen=True)
class ClassifierFunctions:
    """The trained classifier as plain functions, for other plugins (e.g. GAN evaluation).

    Attributes:
        probabilities: float32 images [N, 28, 28, 1] -> float32 class probabilities [N, 10].
        features: float32 images [N, 28, 28, 1] -> float32 penultimate features
            [N, feature_dim].
        feature_dim: Length of a feature vector.
    """

    probabilities: Callable[[np.ndarray], np.ndarray]
    features: Callable[[np.ndarray], np.ndarray]
    feature_dim: int = FEATURE_DIM


def load_classifier(artifact_dir: Path | None = None) -> ClassifierFunctions:
    """Load trained weights (the shipped ones when `artifact_dir` is None) as functions.

    Each function is jitted; it compiles once per distinct batch size it is called with.
    """
    model = DigitsCNN()
    if artifact_dir is None:
        artifact_dir = default_artifact_dir()
    params = load_params(artifact_dir, model)
    probabilities_fn = jax.jit(lambda p, x: jax.nn.softmax(model.apply({"params": p}, x)))
    features_fn = jax.jit(lambda p, x: model.apply({"params": p}, x, features=True))

    def probabilities(images: np.ndarray) -> np.ndarray:
        return np.asarray(probabilities_fn(params, jnp.asarray(images, jnp.float32)))

    def features(images: np.ndarray) -> np.ndarray:
        return np.asarray(features_fn(params, jnp.asarray(images, jnp.float32)))

    return ClassifierFunctions(probabilities=probabilities, features=features)
