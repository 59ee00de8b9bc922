"""The digits CNN (architecture only; training and serving live elsewhere)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from kiln_classifier.data import IMAGE_SIZE, NUM_CLASSES

#: Length of the penultimate feature vector returned by ``DigitsCNN(..., features=True)``.
FEATURE_DIM = 64


class DigitsCNN(nn.Module):
    """Two conv/pool stages and a dense layer: about 107k parameters (~430 kB).

    Input: float32 [N, 28, 28, 1] in [0, 1]. Output: logits [N, 10], or with
    ``features=True`` the penultimate activations [N, FEATURE_DIM] (used by other plugins,
    e.g. for a Fréchet distance between image sets).
    """

    @nn.compact
    def __call__(self, x: jax.Array, features: bool = False) -> jax.Array:
        """Classify a batch of images, or return their penultimate features."""
        x = nn.relu(nn.Conv(16, (3, 3), name="conv1")(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(32, (3, 3), name="conv2")(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        h = nn.relu(nn.Dense(FEATURE_DIM, name="hidden")(x))
        if features:
            return h
        return nn.Dense(NUM_CLASSES, name="logits")(h)


def abstract_params(model: DigitsCNN) -> dict:
    """Shapes and dtypes of the model's parameters, without allocating or computing any.

    Serves as the template that serialized weights are restored into.
    """
    dummy = jax.ShapeDtypeStruct((1, IMAGE_SIZE, IMAGE_SIZE, 1), jnp.float32)
    return jax.eval_shape(model.init, jax.random.key(0), dummy)["params"]
