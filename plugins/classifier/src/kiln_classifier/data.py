"""The digits data set: scikit-learn's bundled 8x8 digits, upsampled to 28x28.

The preprocessing is part of the model's contract (clients in other languages reproduce
it), so it is spelled out exactly in `to_model_input`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: Side of the model's square input image.
IMAGE_SIZE = 28
#: Each 8x8 pixel becomes a BLOCK x BLOCK square of the model input.
BLOCK = 3
#: Zero pixels around the upsampled 24x24 digit.
BORDER = 2
#: Number of classes (the digits 0-9).
NUM_CLASSES = 10
#: Share of the data held out for evaluation.
TEST_FRACTION = 0.2


def to_model_input(images_8x8: np.ndarray) -> np.ndarray:
    """Turn sklearn digits images into model input.

    Each image (values 0..16) is scaled by 1/16, upsampled 3x by pixel repetition
    (``np.kron`` with a 3x3 block of ones, giving 24x24) and zero-padded by 2 pixels on
    every side (28x28).

    Args:
        images_8x8: Array of shape [N, 8, 8] (or [8, 8] for one image), values 0..16.

    Returns:
        float32 array of shape [N, 28, 28, 1] with values in [0, 1].
    """
    images = np.asarray(images_8x8, dtype=np.float64)
    if images.ndim == 2:
        images = images[None]
    if images.shape[1:] != (8, 8):
        raise ValueError(f"expected images of shape [N, 8, 8], got {images.shape}")
    block = np.ones((BLOCK, BLOCK))
    out = np.stack([np.pad(np.kron(img / 16.0, block), BORDER) for img in images])
    return out.astype(np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)


@dataclass(frozen=True)
class DigitsSplit:
    """A fixed train/test split of the preprocessed digits.

    Attributes:
        x_train: float32 [N_train, 28, 28, 1] in [0, 1].
        y_train: int64 [N_train] labels 0..9.
        x_test: float32 [N_test, 28, 28, 1] in [0, 1].
        y_test: int64 [N_test] labels 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split(seed: int = 0) -> DigitsSplit:
    """Load the digits and split them 80/20, stratified by label.

    The split depends only on `seed`, so training and evaluation of one version see the
    same held-out images.
    """
    # Imported here: sklearn is slow to import and only needed when data is loaded.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, random_state=seed, stratify=labels
    )
    x = to_model_input(digits.images)
    return DigitsSplit(
        x_train=x[idx_train],
        y_train=labels[idx_train],
        x_test=x[idx_test],
        y_test=labels[idx_test],
    )


def fingerprint(split: DigitsSplit) -> str:
    """Return the sha256 hex digest of the split's arrays (train then test, x then y)."""
    digest = hashlib.sha256()
    for array in (split.x_train, split.y_train, split.x_test, split.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
