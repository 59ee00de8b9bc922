"""The served signature of ``digits-gan``. Imports no JAX: `plugin` needs it."""

from __future__ import annotations

from kiln.server.plugin import TensorSpec

#: Length of the generator's latent vector.
LATENT_DIM = 100
#: Side of the square images the generator draws.
IMAGE_SIZE = 28

#: Input: the latents, one row per sample.
INPUTS = (
    TensorSpec(
        "z",
        "float32",
        (-1, LATENT_DIM),
        "Latent vectors, one per image; the generator was trained on standard-normal z.",
    ),
)
#: Output: the generated images.
OUTPUTS = (
    TensorSpec(
        "images",
        "float32",
        (-1, IMAGE_SIZE, IMAGE_SIZE, 1),
        "Grayscale digits in [-1, 1], -1 = background; (x + 1) / 2 gives the [0, 1] range "
        "of the digits classifier's input.",
    ),
)
