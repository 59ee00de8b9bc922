"""PNG encoding of generated digits, for the server, the CLI and training previews.

Pure numpy and Pillow: nothing here imports JAX.
"""

from __future__ import annotations

import io

import numpy as np

#: Grey level of the gaps between cells of a sample grid (mid grey, so black and white
#: digit backgrounds both stand out from it).
GRID_GAP_VALUE = 128
#: Pixels between cells of a sample grid.
GRID_GAP = 2


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map images in [-1, 1] (the generator's range) to uint8 grey levels [N, H, W].

    Values outside [-1, 1] are clipped. Accepts [N, H, W, 1], [N, H, W] or one [H, W].
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"expected one channel, got shape {images.shape}")
        images = images[..., 0]
    elif images.ndim == 2:
        images = images[None]
    elif images.ndim != 3:
        raise ValueError(f"expected images [N, H, W, 1], got shape {images.shape}")
    scaled = (np.clip(images, -1.0, 1.0) + 1.0) * 127.5
    return np.rint(scaled).astype(np.uint8)


def _encode_png(pixels: np.ndarray) -> bytes:
    # Imported here so that importing this module (e.g. from the plugin) stays cheap.
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def samples_to_png(images: np.ndarray) -> list[bytes]:
    """Encode each image as its own 8-bit greyscale PNG (28x28 for the generator's output).

    Args:
        images: float array [N, H, W, 1] (or [N, H, W]) in [-1, 1].

    Returns:
        N PNG files, in order.
    """
    return [_encode_png(pixels) for pixels in to_uint8(images)]


def sample_grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """Tile images row by row into one uint8 picture with `GRID_GAP`-pixel grey gaps.

    Cells left over in the last row stay grey. ``columns`` is capped at the image count.
    """
    if columns < 1:
        raise ValueError(f"columns must be positive, got {columns}")
    tiles = to_uint8(images)
    count, height, width = tiles.shape
    if count == 0:
        raise ValueError("no images to tile")
    columns = min(columns, count)
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + GRID_GAP) + GRID_GAP, columns * (width + GRID_GAP) + GRID_GAP),
        GRID_GAP_VALUE,
        dtype=np.uint8,
    )
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top = GRID_GAP + row * (height + GRID_GAP)
        left = GRID_GAP + column * (width + GRID_GAP)
        grid[top : top + height, left : left + width] = tile
    return grid


def sample_grid_png(images: np.ndarray, columns: int = 8) -> bytes:
    """Encode images in [-1, 1] as one greyscale PNG grid, `columns` per row.

    Args:
        images: float array [N, H, W, 1] (or [N, H, W]) in [-1, 1].
        columns: Images per row (capped at N).

    Returns:
        The PNG file's bytes.
    """
    return _encode_png(sample_grid(images, columns))
