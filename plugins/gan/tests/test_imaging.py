"""PNG helpers: one PNG per sample, and grids."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kiln_gan.imaging import GRID_GAP, sample_grid, sample_grid_png, samples_to_png, to_uint8


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_to_uint8_maps_the_tanh_range_and_clips() -> None:
    images = np.array([-2.0, -1.0, 0.0, 1.0, 3.0], np.float32).reshape(1, 1, 5, 1)
    assert to_uint8(images).tolist() == [[[0, 0, 128, 255, 255]]]


def test_samples_to_png_gives_one_grayscale_28x28_png_per_sample() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    pngs = samples_to_png(images)
    assert len(pngs) == 3
    for png, image in zip(pngs, images, strict=True):
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        decoded = _decode(png)
        assert decoded.mode == "L"
        assert decoded.size == (28, 28)
        # Lossless: the pixels are exactly the uint8 mapping of the input.
        np.testing.assert_array_equal(np.asarray(decoded), to_uint8(image[None])[0])


def test_sample_grid_layout() -> None:
    images = np.full((5, 28, 28, 1), 1.0, np.float32)  # white tiles
    grid = sample_grid(images, columns=3)
    rows, cols = 2, 3
    assert grid.shape == (rows * (28 + GRID_GAP) + GRID_GAP, cols * (28 + GRID_GAP) + GRID_GAP)
    # The sixth cell (row 1, column 2) is empty: gap grey, not white.
    top, left = GRID_GAP + 1 * (28 + GRID_GAP), GRID_GAP + 2 * (28 + GRID_GAP)
    assert (grid[top : top + 28, left : left + 28] != 255).all()
    assert (grid[GRID_GAP : GRID_GAP + 28, GRID_GAP : GRID_GAP + 28] == 255).all()


def test_sample_grid_png_decodes_to_the_grid() -> None:
    images = np.linspace(-1, 1, 4 * 28 * 28, dtype=np.float32).reshape(4, 28, 28, 1)
    decoded = _decode(sample_grid_png(images, columns=10))  # columns capped at 4
    np.testing.assert_array_equal(np.asarray(decoded), sample_grid(images, columns=4))


@pytest.mark.parametrize("bad", [np.zeros((2, 28, 28, 3)), np.zeros((2, 2, 28, 28, 1))])
def test_bad_shapes_are_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        samples_to_png(bad)


def test_empty_grid_is_rejected() -> None:
    with pytest.raises(ValueError):
        sample_grid_png(np.zeros((0, 28, 28, 1)))
