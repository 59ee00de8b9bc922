"""Preprocessing and the data split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kiln_classifier.data import fingerprint, load_split, to_model_input


def test_to_model_input_shape_dtype_range() -> None:
    images = np.random.default_rng(0).integers(0, 17, size=(5, 8, 8))
    x = to_model_input(images)
    assert x.shape == (5, 28, 28, 1)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_to_model_input_is_the_documented_transform() -> None:
    image = np.zeros((8, 8))
    image[0, 0] = 16
    image[7, 7] = 8
    x = to_model_input(image)[0, :, :, 0]
    # Each source pixel becomes a 3x3 block, offset by the 2-pixel border.
    np.testing.assert_array_equal(x[2:5, 2:5], 1.0)
    np.testing.assert_array_equal(x[23:26, 23:26], 0.5)
    assert x.sum() == 9 * 1.0 + 9 * 0.5
    np.testing.assert_array_equal(x[:2], 0.0)
    np.testing.assert_array_equal(x[:, 26:], 0.0)
    reference = np.pad(np.kron(image / 16.0, np.ones((3, 3))), 2).astype(np.float32)
    np.testing.assert_array_equal(x, reference)


def test_to_model_input_rejects_other_shapes() -> None:
    with pytest.raises(ValueError, match="8, 8"):
        to_model_input(np.zeros((2, 28, 28)))


def test_split_is_stratified_80_20(split) -> None:
    assert split.x_train.shape == (1437, 28, 28, 1)
    assert split.x_test.shape == (360, 28, 28, 1)
    assert split.y_train.dtype == np.int64 and split.y_test.dtype == np.int64
    assert split.x_train.dtype == np.float32
    test_counts = np.bincount(split.y_test, minlength=10)
    assert test_counts.min() >= 35 and test_counts.max() <= 37


def test_split_and_fingerprint_depend_only_on_seed(split) -> None:
    again = load_split(0)
    assert fingerprint(again) == fingerprint(split)
    assert len(fingerprint(split)) == 64
    other = load_split(1)
    assert fingerprint(other) != fingerprint(split)
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.x_train = other.x_train  # type: ignore[misc]
