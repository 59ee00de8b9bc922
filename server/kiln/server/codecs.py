"""kiln.v1 tensors <-> numpy for the server: zero-copy decode, raw-bytes encode.

The dtype table itself lives in `kiln.client.tensors` (one table for SDK and server).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kiln.client.tensors import DATA_TYPES_BY_NAME, TensorError, from_tensor, to_tensor
from kiln.server.errors import InvalidInput
from kiln.v1 import tensor_pb2

__all__ = ["DATA_TYPES_BY_NAME", "decode_inputs", "encode_outputs"]


def decode_inputs(tensors: Mapping[str, tensor_pb2.Tensor]) -> dict[str, np.ndarray]:
    """Decode request tensors into read-only numpy views of the request's bytes."""
    arrays = {}
    for name, tensor in tensors.items():
        try:
            arrays[name] = from_tensor(tensor)
        except TensorError as err:
            part = "dtype" if err.reason == "DTYPE_INVALID" else "content"
            if err.reason == "SHAPE_INVALID":
                part = "shape"
            raise InvalidInput(
                f"input {name!r}: {err}",
                reason=f"INPUT_{err.reason}",
                field=f"inputs[{name}].{part}",
            ) from None
    return arrays


def encode_outputs(arrays: Mapping[str, np.ndarray]) -> dict[str, tensor_pb2.Tensor]:
    """Encode model outputs as kiln.v1 tensors (one bytes copy per output)."""
    return {name: to_tensor(array) for name, array in arrays.items()}
