"""The digits CNN (architecture only; training and serving live elsewhere)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from kiln_classifier.data import BLOCK, BORDER, IMAGE_SIZE, NUM_CLASSES

#: Length of the penultimate feature vector returned by ``DigitsCNN(..., features=True)``.
FEATURE_DIM = 64


class DigitsCNN(nn.Module):
    """A patch stem, one conv/pool stage and a dense layer: about 38k parameters (~150 kB).

    The input is an 8x8 digit drawn as 3x3 pixel blocks inside a 2-pixel border (see
    `kiln_classifier.data.to_model_input`). The stem drops the border and reads each block
    with one stride-3 convolution, so the rest of the network works at the data's own
    8x8 resolution instead of on nine copies of every pixel.

    Input: float32 [N, 28, 28, 1] in [0, 1]. Output: logits [N, 10], or with
    ``features=True`` the penultimate activations [N, FEATURE_DIM] (used by other plugins,
    e.g. for a Fréchet distance between image sets).
    """

    @nn.compact
    def __call__(self, x: jax.Array, features: bool = False) -> jax.Array:
        """Classify a batch of images, or return their penultimate features."""
        x = x[:, BORDER:-BORDER, BORDER:-BORDER, :]
        stem = nn.Conv(16, (BLOCK, BLOCK), strides=(BLOCK, BLOCK), padding="VALID", name="stem")
        x = nn.relu(stem(x))
        x = nn.relu(nn.Conv(32, (3, 3), name="conv")(x))
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
