"""The DCGAN networks (architecture only; training and serving live elsewhere).

The generator maps a latent vector ``z`` [N, 100] to an image [N, 28, 28, 1] in [-1, 1];
the discriminator maps an image in [-1, 1] to one real/fake logit per sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from kiln_gan.signature import IMAGE_SIZE, LATENT_DIM

#: Side of the generator's first feature map (the classic DCGAN 7x7).
BASE_SIZE = 7
#: Side of the digits' native grid (sklearn's 8x8 images).
GRID_SIZE = 8
#: Pixels per grid cell side in the 28x28 images (8 x 3 = 24).
BLOCK = 3
#: Background border around the 24x24 digit (24 + 2 x 2 = 28).
BORDER = (IMAGE_SIZE - GRID_SIZE * BLOCK) // 2


class Generator(nn.Module):
    """DCGAN generator shaped after the data: z → Dense → 7x7xC → 8x8 → 3x blocks → 28x28.

    The digits are 8x8 images upsampled 3x by pixel repetition and padded by 2 pixels, so
    instead of the usual 7→14→28 stride-2 stack (whose 2x upsampling cannot draw the
    data's 3-pixel blocks and leaves speckle that the scoring classifier rejects) the
    transposed convolutions go 7x7 → 8x8 (2x2, valid) → 8x8 (3x3, same) → 24x24 (3x3,
    stride 3: one learned 3x3 block per 8x8 cell); tanh, then a 2-pixel border at the
    background value -1 gives 28x28x1.

    Normalisation is per sample (LayerNorm over each feature map), not BatchNorm: a sample
    then never depends on the other samples of its batch, so the served model gives the same
    image for a latent whatever the batch or chunk size, and there are no running
    statistics to keep in step with the weights.

    Attributes:
        channels: Channels C of the 7x7 map; the 8x8 maps have C/2.
    """

    channels: int = 64

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """Map latents [N, LATENT_DIM] to images [N, 28, 28, 1] in [-1, 1]."""
        x = nn.Dense(BASE_SIZE * BASE_SIZE * self.channels, name="project")(z)
        x = x.reshape(z.shape[0], BASE_SIZE, BASE_SIZE, self.channels)
        x = nn.relu(nn.LayerNorm(reduction_axes=(1, 2, 3), name="norm0")(x))
        x = nn.ConvTranspose(self.channels // 2, (2, 2), padding="VALID", name="up1")(x)
        x = nn.relu(nn.LayerNorm(reduction_axes=(1, 2, 3), name="norm1")(x))
        x = nn.ConvTranspose(self.channels // 2, (3, 3), name="mix")(x)
        x = nn.relu(nn.LayerNorm(reduction_axes=(1, 2, 3), name="norm2")(x))
        x = nn.ConvTranspose(
            1, (BLOCK, BLOCK), strides=(BLOCK, BLOCK), padding="VALID", name="out"
        )(x)
        x = jnp.tanh(x)
        return jnp.pad(
            x, ((0, 0), (BORDER, BORDER), (BORDER, BORDER), (0, 0)), constant_values=-1.0
        )


class Discriminator(nn.Module):
    """Convolutional discriminator that reads the image on the digits' 8x8 grid.

    Drops the 2-pixel border, then a 3x3 stride-3 conv turns each 3x3 cell into C
    features (8x8xC): it sees a cell's inside, so uneven "blocks" from the generator are
    visible to it. Then 3x3 conv (8x8xC) → 4x4 stride-2 conv (4x4x2C) → one logit, leaky
    ReLU throughout and LayerNorm (per sample) before the last activation.

    Attributes:
        channels: Channels C of the cell features; the last conv has 2C.
    """

    channels: int = 32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map images [N, 28, 28, 1] in [-1, 1] to logits [N] (high = looks real)."""
        x = x[:, BORDER:-BORDER, BORDER:-BORDER, :]
        x = nn.Conv(
            self.channels, (BLOCK, BLOCK), strides=(BLOCK, BLOCK), padding="VALID", name="cells"
        )(x)
        x = nn.leaky_relu(x, 0.2)
        x = nn.leaky_relu(nn.Conv(self.channels, (3, 3), name="conv2")(x), 0.2)
        x = nn.Conv(self.channels * 2, (4, 4), strides=(2, 2), name="conv3")(x)
        x = nn.leaky_relu(nn.LayerNorm(reduction_axes=(1, 2, 3), name="norm3")(x), 0.2)
        x = x.reshape(x.shape[0], -1)
        return nn.Dense(1, name="logit")(x)[:, 0]


def generator_from_params(params: Mapping[str, Any]) -> Generator:
    """Build the `Generator` whose shapes match `params` (its ``params`` collection).

    The width is read off the projection layer, so a weights file is all a server needs:
    no separate architecture file has to travel with it.
    """
    features = params["project"]["kernel"].shape[-1]
    channels, rem = divmod(int(features), BASE_SIZE * BASE_SIZE)
    if rem or channels < 4:
        raise ValueError(f"generator projection has {features} features, not 7*7*C")
    return Generator(channels=channels)


def abstract_generator_params(generator: Generator) -> dict:
    """Shapes and dtypes of the generator's parameters, without allocating or computing.

    Serves as the template serialized weights are checked against.
    """
    dummy = jax.ShapeDtypeStruct((1, LATENT_DIM), jnp.float32)
    return jax.eval_shape(generator.init, jax.random.key(0), dummy)["params"]
