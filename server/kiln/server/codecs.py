"""kiln.v1 tensors <-> numpy for the server: zero-copy decode, raw-bytes encode.

The dtype table itself lives in `kiln.client.tensors` (one table for SDK and server).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kiln.client.tensors import (
    DATA_TYPES_BY_NAME,
    TensorError,
    fill_tensor,
    from_tensor,
    to_tensor,
)
from kiln.server.errors import InvalidInput
from kiln.v1 import tensor_pb2

__all__ = ["DATA_TYPES_BY_NAME", "decode_inputs", "encode_outputs", "fill_tensor"]


#: Which part of a tensor each decoding failure is about.
_FIELD_AT_FAULT = {
    "DTYPE_INVALID": "dtype",
    "SHAPE_INVALID": "shape",
    "CONTENT_SIZE_MISMATCH": "content",
}


def decode_inputs(tensors: Mapping[str, tensor_pb2.Tensor]) -> dict[str, np.ndarray]:
    """Decode request tensors into read-only numpy views of the request's bytes."""
    arrays = {}
    for name, tensor in tensors.items():
        try:
            arrays[name] = from_tensor(tensor)
        except TensorError as err:
            raise InvalidInput(
                f"input {name!r}: {err}",
                reason=f"INPUT_{err.reason}",
                field=f"inputs[{name}].{_FIELD_AT_FAULT[err.reason]}",
            ) from None
    return arrays


def encode_outputs(arrays: Mapping[str, np.ndarray]) -> dict[str, tensor_pb2.Tensor]:
    """Encode model outputs as kiln.v1 tensors (one bytes copy per output)."""
    return {name: to_tensor(array) for name, array in arrays.items()}
