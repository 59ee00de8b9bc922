"""Open Inference Protocol v2 tensors and parameters <-> numpy and Kiln's domain.

The OIP data model lives here, in the core: datatype strings, the raw byte layout,
typed ``contents``, the raw-vs-typed rules and request parameters. Functions take the
protocol's messages by their fields (``name``, ``datatype``, ``shape``, ``contents``,
``parameters``), so this module imports neither gRPC nor the generated stubs; the
servicer in `kiln.server.grpc.oip` builds the messages. Every problem is an
`InvalidInput` naming the request field at fault.

Layout rules (protocol §3): tensors are flattened row-major and little-endian; BOOL is
one byte per element (0 or 1); BYTES elements are each prefixed by their length as a
4-byte little-endian unsigned integer; FP16 and BF16 travel only as raw bytes.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ml_dtypes
import numpy as np

from kiln.server.errors import InvalidInput
from kiln.server.plugin import ModelSpec


@dataclass(frozen=True)
class Datatype:
    """One OIP datatype.

    Attributes:
        name: The protocol's datatype string (``"FP32"``).
        dtype: The numpy dtype of one element (object for BYTES).
        contents_field: The `InferTensorContents` list carrying it, or None (raw only).
    """

    name: str
    dtype: np.dtype
    contents_field: str | None

    @property
    def config_type(self) -> str:
        """Triton's model-configuration enum name (``TYPE_STRING`` for BYTES)."""
        return "TYPE_STRING" if self.name == "BYTES" else f"TYPE_{self.name}"


#: The one table of OIP datatype strings, numpy dtypes and typed-content lists.
DATATYPES: dict[str, Datatype] = {
    d.name: d
    for d in (
        Datatype("BOOL", np.dtype(np.bool_), "bool_contents"),
        Datatype("UINT8", np.dtype("<u1"), "uint_contents"),
        Datatype("UINT16", np.dtype("<u2"), "uint_contents"),
        Datatype("UINT32", np.dtype("<u4"), "uint_contents"),
        Datatype("UINT64", np.dtype("<u8"), "uint64_contents"),
        Datatype("INT8", np.dtype("<i1"), "int_contents"),
        Datatype("INT16", np.dtype("<i2"), "int_contents"),
        Datatype("INT32", np.dtype("<i4"), "int_contents"),
        Datatype("INT64", np.dtype("<i8"), "int64_contents"),
        Datatype("FP16", np.dtype("<f2"), None),
        Datatype("FP32", np.dtype("<f4"), "fp32_contents"),
        Datatype("FP64", np.dtype("<f8"), "fp64_contents"),
        Datatype("BF16", np.dtype(ml_dtypes.bfloat16), None),
        Datatype("BYTES", np.dtype(object), "bytes_contents"),
    )
}

#: numpy dtype name -> OIP datatype string (object arrays are BYTES).
DATATYPE_BY_DTYPE: dict[str, str] = {d.dtype.name: name for name, d in DATATYPES.items()}

#: Element type of each typed-content list, as protobuf stores it.
_CONTENTS_DTYPES: dict[str, np.dtype] = {
    "bool_contents": np.dtype(np.bool_),
    "int_contents": np.dtype(np.int32),
    "int64_contents": np.dtype(np.int64),
    "uint_contents": np.dtype(np.uint32),
    "uint64_contents": np.dtype(np.uint64),
    "fp32_contents": np.dtype(np.float32),
    "fp64_contents": np.dtype(np.float64),
}

_LENGTH = struct.Struct("<I")

#: Request parameters whose meaning Kiln does not implement (stateless models).
_SEQUENCE_PARAMETERS = frozenset({"sequence_id", "sequence_start", "sequence_end"})
#: Reserved ``triton_*`` parameters Kiln accepts (each request gets one final response).
_ACCEPTED_TRITON_PARAMETERS = frozenset({"triton_enable_empty_final_response"})
#: Per-tensor parameters of Triton's shared-memory extension.
_SHARED_MEMORY_PARAMETERS = frozenset(
    {"shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"}
)


class InputTensor(Protocol):
    """What `decode_inputs` reads of a ``ModelInferRequest.InferInputTensor``."""

    name: str
    datatype: str
    shape: Sequence[int]
    parameters: Mapping[str, Any]
    contents: Any

    def HasField(self, name: str) -> bool:
        """True when the message field `name` is set."""


@functools.lru_cache(maxsize=128)
def datatype_of(dtype: np.dtype | str) -> str:
    """The OIP datatype string for a numpy dtype (or dtype name); bytes/str arrays are BYTES.

    Cached: it runs for every tensor of every request, and numpy's ``dtype.name`` is slow.

    Raises:
        ValueError: The dtype has no OIP datatype (e.g. complex).
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return "BYTES"
    try:
        return DATATYPE_BY_DTYPE[dtype.name]
    except KeyError:
        raise ValueError(f"dtype {dtype.name!r} has no Open Inference Protocol datatype") from None


def lookup_datatype(datatype: str, field: str) -> Datatype:
    """The table entry for a datatype string, or `InvalidInput` naming `field`."""
    try:
        return DATATYPES[datatype]
    except KeyError:
        raise InvalidInput(
            f"{field} is {datatype!r}, which is not a datatype; use one of {list(DATATYPES)}",
            reason="INPUT_DATATYPE_UNKNOWN",
            field=field,
        ) from None


def element_count(shape: Sequence[int], field: str) -> int:
    """product(shape), after checking no dimension is negative."""
    if any(d < 0 for d in shape):
        raise InvalidInput(
            f"{field} {list(shape)} has a negative dimension; send the concrete shape",
            reason="INPUT_SHAPE_INVALID",
            field=field,
        )
    return math.prod(shape)


# --- raw bytes -------------------------------------------------------------------------


def decode_raw(
    datatype: str, shape: Sequence[int], raw: bytes, *, field: str, data_field: str | None = None
) -> np.ndarray:
    """Decode one raw tensor: a read-only numpy view of `raw` (no copy), BYTES excepted.

    Args:
        field: The tensor's request field (``inputs[x]``), named in datatype/shape errors.
        data_field: The field `raw` came from (``raw_input_contents[0]``), named in data
            errors; defaults to `field`.
    """
    info = lookup_datatype(datatype, f"{field}.datatype")
    count = element_count(shape, f"{field}.shape")
    field = data_field or field
    if info.name == "BYTES":
        return deserialize_bytes(raw, count, field=field).reshape(shape)
    expected = count * info.dtype.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{field} has {len(raw)} bytes, but shape {list(shape)} of {info.name} needs "
            f"{count} x {info.dtype.itemsize} = {expected} bytes",
            reason="INPUT_CONTENT_SIZE_MISMATCH",
            field=field,
            metadata={"expected": str(expected), "actual": str(len(raw))},
        )
    if info.name == "BOOL" and count and np.frombuffer(raw, np.uint8).max() > 1:
        raise InvalidInput(
            f"{field}: BOOL elements must be the bytes 0x00 or 0x01",
            reason="INPUT_VALUE_OUT_OF_RANGE",
            field=field,
        )
    return np.frombuffer(raw, dtype=info.dtype).reshape(shape)


def encode_raw(array: np.ndarray) -> tuple[str, list[int], bytes]:
    """Encode an array for ``raw_output_contents``: (datatype, shape, bytes)."""
    array = np.asarray(array)
    datatype = datatype_of(array.dtype)
    if datatype == "BYTES":
        return datatype, list(array.shape), serialize_bytes(array)
    data = np.ascontiguousarray(array, dtype=DATATYPES[datatype].dtype)
    return datatype, list(data.shape), data.tobytes()


def serialize_bytes(array: np.ndarray | Iterable) -> bytes:
    """BYTES framing: each element (bytes, or str as UTF-8) after its 4-byte LE length."""
    parts = []
    for item in np.asarray(array, dtype=object).ravel():
        data = item.encode() if isinstance(item, str) else item
        if not isinstance(data, bytes | bytearray | np.bytes_):
            raise ValueError(f"BYTES elements must be bytes or str, got {type(item).__name__}")
        if len(data) > 0xFFFFFFFF:
            raise ValueError("a BYTES element is longer than 2**32 - 1 bytes")
        parts += (_LENGTH.pack(len(data)), bytes(data))
    return b"".join(parts)


def deserialize_bytes(raw: bytes, count: int, *, field: str) -> np.ndarray:
    """Split BYTES framing into a 1-D object array of `count` bytes elements."""
    items: list[bytes] = []
    view = memoryview(raw)
    offset = 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise _malformed(field, f"a length prefix at byte {offset} is cut short")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + length > len(view):
            raise _malformed(
                field,
                f"element {len(items)} claims {length} bytes but only {len(view) - offset} remain",
            )
        items.append(bytes(view[offset : offset + length]))
        offset += length
    if len(items) != count:
        raise InvalidInput(
            f"{field} holds {len(items)} BYTES elements, but its shape needs {count}",
            reason="INPUT_ELEMENT_COUNT_MISMATCH",
            field=field,
            metadata={"expected": str(count), "actual": str(len(items))},
        )
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def _malformed(field: str, detail: str) -> InvalidInput:
    return InvalidInput(
        f"{field} is not valid BYTES data ({detail}); each element must be preceded by its "
        "length as a 4-byte little-endian unsigned integer",
        reason="INPUT_BYTES_MALFORMED",
        field=field,
    )


# --- typed contents --------------------------------------------------------------------


def decode_contents(
    datatype: str, shape: Sequence[int], contents: Any, *, field: str
) -> np.ndarray:
    """Decode typed `contents` (an ``InferTensorContents``) into a numpy array.

    Args:
        field: The request field of the tensor (``inputs[x]``), named in errors.
    """
    info = lookup_datatype(datatype, f"{field}.datatype")
    count = element_count(shape, f"{field}.shape")
    where = f"{field}.contents"
    if info.contents_field is None:
        raise InvalidInput(
            f"{where}: {info.name} has no typed contents list; send the data as raw bytes in "
            "raw_input_contents",
            reason="INPUT_CONTENTS_UNSUPPORTED",
            field=where,
        )
    used = sorted(descriptor.name for descriptor, _ in contents.ListFields())
    stray = [name for name in used if name != info.contents_field]
    if stray:
        raise InvalidInput(
            f"{where}: a {info.name} tensor's values belong in {info.contents_field}, "
            f"but {', '.join(stray)} is set",
            reason="INPUT_CONTENTS_MISMATCH",
            field=where,
        )
    values = getattr(contents, info.contents_field)
    if len(values) != count:
        raise InvalidInput(
            f"{where}.{info.contents_field} has {len(values)} values, but shape "
            f"{list(shape)} needs {count}",
            reason="INPUT_ELEMENT_COUNT_MISMATCH",
            field=where,
            metadata={"expected": str(count), "actual": str(len(values))},
        )
    if info.name == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    wide = np.fromiter(values, dtype=_CONTENTS_DTYPES[info.contents_field], count=count)
    if wide.dtype != info.dtype:  # INT8/16 from int_contents, UINT8/16 from uint_contents
        limits = np.iinfo(info.dtype)
        if count and (wide.min() < limits.min or wide.max() > limits.max):
            raise InvalidInput(
                f"{where}: {info.name} values must lie in [{limits.min}, {limits.max}]",
                reason="INPUT_VALUE_OUT_OF_RANGE",
                field=where,
            )
        wide = wide.astype(info.dtype)
    return wide.reshape(shape)


# --- whole requests --------------------------------------------------------------------


def decode_inputs(
    inputs: Sequence[InputTensor], raw_contents: Sequence[bytes]
) -> dict[str, np.ndarray]:
    """Decode a request's inputs, applying the raw-vs-typed rules.

    With ``raw_input_contents``, it holds exactly one entry per input, in input order, and
    no input may set ``contents``. Without it, every input carries typed ``contents``
    (an input with no elements may carry nothing).
    """
    if raw_contents:
        for tensor in inputs:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"input {tensor.name!r} sets contents while the request uses "
                    "raw_input_contents; send every input one way or the other",
                    reason="INPUT_CONTENTS_MIXED",
                    field=f"inputs[{tensor.name}].contents",
                )
    arrays: dict[str, np.ndarray] = {}
    next_raw = 0
    for tensor in inputs:
        field = f"inputs[{tensor.name}]"
        if tensor.name in arrays:
            raise InvalidInput(
                f"input {tensor.name!r} appears more than once",
                reason="INPUT_DUPLICATE",
                field=field,
            )
        _reject_shared_memory(tensor.parameters, field)
        shape = list(tensor.shape)
        if tensor.HasField("contents"):
            array = decode_contents(tensor.datatype, shape, tensor.contents, field=field)
        elif next_raw < len(raw_contents):
            array = decode_raw(
                tensor.datatype,
                shape,
                raw_contents[next_raw],
                field=field,
                data_field=f"raw_input_contents[{next_raw}]",
            )
            next_raw += 1
        elif element_count(shape, f"{field}.shape") == 0:
            array = np.empty(shape, lookup_datatype(tensor.datatype, f"{field}.datatype").dtype)
        else:
            raise InvalidInput(
                f"input {tensor.name!r} has no data: give it contents, or one "
                "raw_input_contents entry per input",
                reason="INPUT_DATA_MISSING",
                field=field,
            )
        arrays[tensor.name] = array
    if next_raw < len(raw_contents):
        raise InvalidInput(
            f"raw_input_contents has {len(raw_contents)} entries but the request has "
            f"{len(inputs)} inputs; send one entry per input, in input order",
            reason="RAW_INPUT_COUNT_MISMATCH",
            field="raw_input_contents",
        )
    return arrays


def check_datatypes(spec: ModelSpec, inputs: Sequence[InputTensor]) -> None:
    """Check each known input's datatype against the model's signature, in OIP terms.

    Unknown input names are left to the engine's signature check.
    """
    expected = {t.name: datatype_of(t.dtype) for t in spec.inputs}
    for tensor in inputs:
        want = expected.get(tensor.name)
        if want is None or tensor.datatype == want:
            continue
        lookup_datatype(tensor.datatype, f"inputs[{tensor.name}].datatype")
        raise InvalidInput(
            f"input {tensor.name!r} has datatype {tensor.datatype}, but model {spec.name!r} "
            f"expects {want}",
            reason="INPUT_DTYPE_MISMATCH",
            field=f"inputs[{tensor.name}].datatype",
            metadata={"expected": want, "actual": tensor.datatype},
        )


def requested_outputs(outputs: Sequence[Any]) -> list[str]:
    """Names of the requested outputs (``InferRequestedOutputTensor``), after checking
    their parameters ask for nothing Kiln cannot do."""
    names = []
    for output in outputs:
        field = f"outputs[{output.name}]"
        if "classification" in output.parameters:
            raise InvalidInput(
                f"output {output.name!r} asks for classification, which Kiln does not "
                "implement; request the raw output and take the top classes client-side",
                reason="CLASSIFICATION_UNSUPPORTED",
                field=f"{field}.parameters[classification]",
            )
        _reject_shared_memory(output.parameters, field)
        names.append(output.name)
    return names


def _reject_shared_memory(parameters: Mapping[str, Any], field: str) -> None:
    for key in parameters:
        if key in _SHARED_MEMORY_PARAMETERS:
            raise InvalidInput(
                f"{field} uses shared memory ({key}), which Kiln does not implement; "
                "send the data in the request",
                reason="SHARED_MEMORY_UNSUPPORTED",
                field=f"{field}.parameters[{key}]",
            )


# --- request parameters ----------------------------------------------------------------


@dataclass(frozen=True)
class RequestOptions:
    """What a request's parameters ask of Kiln.

    Attributes:
        timeout_s: The ``timeout`` parameter (sent in microseconds), or None.
        count: The ``count`` parameter: generate this many samples (no inputs), or None.
        seed: The ``seed`` parameter for generation (0 when absent).
    """

    timeout_s: float | None = None
    count: int | None = None
    seed: int = 0


def parse_parameters(parameters: Mapping[str, Any]) -> RequestOptions:
    """Read ``ModelInferRequest.parameters`` (values are ``InferParameter``).

    Understood: ``timeout`` (microseconds), ``priority`` (accepted, no effect), ``count``
    and ``seed`` (generation). Sequence parameters and unknown ``triton_*`` parameters
    are refused; other custom parameters are ignored.
    """
    for key in parameters:
        if key in _SEQUENCE_PARAMETERS:
            raise InvalidInput(
                f"parameter {key!r}: Kiln models are stateless and do not support sequences",
                reason="PARAMETER_UNSUPPORTED",
                field=f"parameters[{key}]",
            )
        if key.startswith("triton_") and key not in _ACCEPTED_TRITON_PARAMETERS:
            raise InvalidInput(
                f"parameter {key!r} is reserved and not supported by Kiln",
                reason="PARAMETER_UNSUPPORTED",
                field=f"parameters[{key}]",
            )
    if "triton_enable_empty_final_response" in parameters:
        _typed(parameters, "triton_enable_empty_final_response", ("bool_param",))
    timeout_us = _non_negative_int(parameters, "timeout")
    _non_negative_int(parameters, "priority")
    return RequestOptions(
        timeout_s=None if timeout_us is None else timeout_us / 1e6,
        count=_non_negative_int(parameters, "count"),
        seed=_non_negative_int(parameters, "seed") or 0,
    )


def _typed(parameters: Mapping[str, Any], key: str, kinds: tuple[str, ...]) -> Any:
    value = parameters[key]
    kind = value.WhichOneof("parameter_choice")
    if kind not in kinds:
        raise InvalidInput(
            f"parameter {key!r} must be set as {' or '.join(kinds)}, got {kind or 'nothing'}",
            reason="PARAMETER_TYPE_INVALID",
            field=f"parameters[{key}]",
        )
    return getattr(value, kind)


def _non_negative_int(parameters: Mapping[str, Any], key: str) -> int | None:
    if key not in parameters:
        return None
    number = _typed(parameters, key, ("int64_param", "uint64_param"))
    if number < 0:
        raise InvalidInput(
            f"parameter {key!r} must not be negative, got {number}",
            reason="PARAMETER_OUT_OF_RANGE",
            field=f"parameters[{key}]",
        )
    return number
