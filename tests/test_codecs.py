"""kiln.v1 tensors <-> numpy: every served dtype round-trips, decoding never copies."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from kiln.client.tensors import DTYPES, TensorError, from_tensor, to_tensor
from kiln.server.codecs import decode_inputs
from kiln.server.errors import InvalidInput
from kiln.server.plugin import SUPPORTED_DTYPES
from kiln.v1 import tensor_pb2

SAMPLES = {
    "bool": np.array([[True, False, True]]),
    "int8": np.array([[-128, 0, 127]], np.int8),
    "int16": np.array([[-32768, 1, 32767]], np.int16),
    "int32": np.array([[-(2**31), 2, 2**31 - 1]], np.int32),
    "int64": np.array([[-(2**63), 3, 2**63 - 1]], np.int64),
    "uint8": np.array([[0, 1, 255]], np.uint8),
    "uint16": np.array([[0, 2, 65535]], np.uint16),
    "uint32": np.array([[0, 3, 2**32 - 1]], np.uint32),
    "uint64": np.array([[0, 4, 2**64 - 1]], np.uint64),
    "float16": np.array([[-1.5, 0.0, 65504.0]], np.float16),
    "bfloat16": np.array([[-1.5, 0.0, 3.0e38]], ml_dtypes.bfloat16),
    "float32": np.array([[-1.5, np.pi, np.inf]], np.float32),
    "float64": np.array([[-1.5, np.e, np.nan]], np.float64),
}


def test_every_supported_dtype_has_a_wire_type_and_a_sample():
    assert {d.name for d in DTYPES.values()} == set(SUPPORTED_DTYPES) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_is_exact(name):
    array = SAMPLES[name]
    tensor = to_tensor(array)
    assert list(tensor.shape) == [1, 3]
    assert len(tensor.content) == array.size * array.dtype.itemsize
    back = from_tensor(tensor)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # bit-exact, NaN included


def test_wire_bytes_are_little_endian_row_major():
    tensor = to_tensor(np.array([[1, 2], [3, 4]], dtype=">i2"))  # big-endian input
    assert tensor.content == bytes([1, 0, 2, 0, 3, 0, 4, 0])
    assert from_tensor(tensor).tolist() == [[1, 2], [3, 4]]


def test_non_contiguous_arrays_are_sent_in_row_major_order():
    array = np.arange(6, dtype=np.float32).reshape(2, 3).T
    np.testing.assert_array_equal(from_tensor(to_tensor(array)), array)


def test_decode_is_a_zero_copy_view_of_the_message_bytes():
    tensor = to_tensor(np.arange(1000, dtype=np.float32))
    array = from_tensor(tensor)
    assert not array.flags.owndata and not array.flags.writeable
    root = array
    while isinstance(root, np.ndarray):
        root = root.base
    assert root is tensor.content or isinstance(root, bytes)


def test_scalars_and_empty_tensors():
    assert from_tensor(to_tensor(np.float32(2.5))).item() == 2.5
    assert from_tensor(to_tensor(np.zeros((0, 4), np.int32))).shape == (0, 4)


def test_unsendable_dtypes_are_refused_with_the_alternatives():
    with pytest.raises(ValueError, match="complex128"):
        to_tensor(np.zeros(2, np.complex128))


@pytest.mark.parametrize(
    ("tensor", "reason"),
    [
        (tensor_pb2.Tensor(dtype=0, shape=[1], content=b"\0" * 4), "DTYPE_INVALID"),
        (tensor_pb2.Tensor(dtype=99, shape=[1], content=b"\0" * 4), "DTYPE_INVALID"),
        (
            tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_INT32, shape=[-2], content=b""),
            "SHAPE_INVALID",
        ),
        (
            tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_INT32, shape=[2, 2], content=b"\0" * 15),
            "CONTENT_SIZE_MISMATCH",
        ),
    ],
)
def test_malformed_tensors_say_why(tensor, reason):
    with pytest.raises(TensorError) as info:
        from_tensor(tensor)
    assert info.value.reason == reason


def test_server_decode_names_the_offending_input():
    bad = tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_FLOAT32, shape=[2], content=b"\0" * 7)
    with pytest.raises(InvalidInput) as info:
        decode_inputs({"ok": to_tensor(np.zeros(2, np.float32)), "image": bad})
    assert info.value.reason == "INPUT_CONTENT_SIZE_MISMATCH"
    assert info.value.field == "inputs[image].content"
    assert "7 bytes" in info.value.message and "needs 8" in info.value.message
