"""The GAN's view of the digits data: the classifier's split, scaled to the tanh range.

The split itself (and its fingerprint) come from `kiln_classifier.data`, so the GAN and
the classifier that scores it agree on which images are held out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kiln_classifier.data import DigitsSplit


def to_signed(images: np.ndarray) -> np.ndarray:
    """Map images from [0, 1] (the classifier's range) to [-1, 1] (the generator's)."""
    return (np.asarray(images, dtype=np.float32) * 2.0 - 1.0).astype(np.float32)


def to_unit(images: np.ndarray) -> np.ndarray:
    """Map images from [-1, 1] (the generator's range) to [0, 1], clipping outliers."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) * 0.5, 0.0, 1.0)


def load_split(seed: int = 0) -> DigitsSplit:
    """Load the digits train/test split shared with the classifier (images in [0, 1])."""
    from kiln_classifier.data import load_split as _load_split

    return _load_split(seed=seed)


def fingerprint(split: DigitsSplit) -> str:
    """Digest of the split, as the classifier computes it (recorded in the manifest)."""
    from kiln_classifier.data import fingerprint as _fingerprint

    return _fingerprint(split)
