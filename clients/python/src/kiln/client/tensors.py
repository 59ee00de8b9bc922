"""numpy arrays <-> `kiln.v1.Tensor`, without per-element Python work.

`DTYPES` is the one table of wire types and numpy dtypes; the server uses it too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ml_dtypes
import numpy as np

from kiln.v1 import tensor_pb2

_D = tensor_pb2.DataType

#: Wire data type -> numpy dtype (little-endian, fixed width).
DTYPES: dict[int, np.dtype] = {
    _D.DATA_TYPE_BOOL: np.dtype(np.bool_),
    _D.DATA_TYPE_INT8: np.dtype("<i1"),
    _D.DATA_TYPE_INT16: np.dtype("<i2"),
    _D.DATA_TYPE_INT32: np.dtype("<i4"),
    _D.DATA_TYPE_INT64: np.dtype("<i8"),
    _D.DATA_TYPE_UINT8: np.dtype("<u1"),
    _D.DATA_TYPE_UINT16: np.dtype("<u2"),
    _D.DATA_TYPE_UINT32: np.dtype("<u4"),
    _D.DATA_TYPE_UINT64: np.dtype("<u8"),
    _D.DATA_TYPE_FLOAT16: np.dtype("<f2"),
    _D.DATA_TYPE_BFLOAT16: np.dtype(ml_dtypes.bfloat16),
    _D.DATA_TYPE_FLOAT32: np.dtype("<f4"),
    _D.DATA_TYPE_FLOAT64: np.dtype("<f8"),
}

#: numpy dtype name ("float32", "bfloat16", ...) -> the wire's numpy dtype.
DTYPES_BY_NAME: dict[str, np.dtype] = {dtype.name: dtype for dtype in DTYPES.values()}

#: numpy dtype name ("float32", "bfloat16", ...) -> wire data type.
DATA_TYPES_BY_NAME: dict[str, int] = {dtype.name: code for code, dtype in DTYPES.items()}

# Keyed by dtype object: a dict lookup, where `dtype.name` costs microseconds per call.
_DATA_TYPES_BY_DTYPE: dict[np.dtype, int] = {dtype: code for code, dtype in DTYPES.items()}


class TensorError(ValueError):
    """A tensor that cannot be decoded.

    Attributes:
        reason: ``DTYPE_INVALID``, ``SHAPE_INVALID`` or ``CONTENT_SIZE_MISMATCH``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def data_type_of(dtype: np.dtype | str) -> int:
    """Return the wire `DataType` for a numpy dtype (or dtype name).

    Raises:
        ValueError: The dtype has no wire type (e.g. object or complex).
    """
    dtype = np.dtype(dtype)
    code = _DATA_TYPES_BY_DTYPE.get(dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype)
    if code is None:
        raise ValueError(
            f"dtype {dtype.name!r} cannot be sent; use one of {sorted(DATA_TYPES_BY_NAME)}"
        )
    return code


def to_tensor(array: np.ndarray | Sequence) -> tensor_pb2.Tensor:
    """Encode an array as a `kiln.v1.Tensor` (row-major, little-endian bytes)."""
    tensor = tensor_pb2.Tensor()
    fill_tensor(tensor, array)
    return tensor


def fill_tensor(tensor: tensor_pb2.Tensor, array: np.ndarray | Sequence) -> None:
    """Encode an array into an empty `kiln.v1.Tensor` field of a message being built.

    Assigning the field in place saves building a separate `Tensor` and copying it in,
    which matters for large arrays such as generated samples (one bytes copy in all).
    """
    array = np.asarray(array)
    code = data_type_of(array.dtype)
    data = np.ascontiguousarray(array, dtype=DTYPES[code])
    tensor.dtype = code
    tensor.shape.extend(data.shape)
    tensor.content = data.tobytes()


def from_tensor(tensor: tensor_pb2.Tensor) -> np.ndarray:
    """Decode a `kiln.v1.Tensor` into a read-only numpy view of its bytes (no copy).

    Raises:
        TensorError: Unknown data type, negative dimension, or a byte length that does not
            match the shape.
    """
    dtype = DTYPES.get(tensor.dtype)
    if dtype is None:
        raise TensorError("DTYPE_INVALID", f"unknown data type {tensor.dtype}")
    shape = tuple(tensor.shape)
    if any(d < 0 for d in shape):
        raise TensorError("SHAPE_INVALID", f"negative dimension in shape {list(shape)}")
    expected = math.prod(shape) * dtype.itemsize
    if len(tensor.content) != expected:
        raise TensorError(
            "CONTENT_SIZE_MISMATCH",
            f"content is {len(tensor.content)} bytes but shape {list(shape)} of "
            f"{dtype.name} needs {expected}",
        )
    return np.frombuffer(tensor.content, dtype=dtype).reshape(shape)
