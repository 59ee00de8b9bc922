"""Checks a batch of inputs against a model's signature, before any model code runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from kiln.client.tensors import DTYPES_BY_NAME
from kiln.server.errors import InvalidInput
from kiln.server.plugin import ModelSpec, TensorSpec


def validate_inputs(spec: ModelSpec, inputs: Mapping[str, np.ndarray], max_batch_size: int) -> int:
    """Check names, dtypes, ranks, dims and batch size; return the batch size.

    Raises:
        InvalidInput: naming the offending field, with a reason per kind of mistake.
    """
    expected = {t.name: t for t in spec.inputs}
    for name in inputs:
        if name not in expected:
            raise InvalidInput(
                f"model {spec.name!r} has no input {name!r}; its inputs are {sorted(expected)}",
                reason="INPUT_UNEXPECTED",
                field=f"inputs[{name}]",
            )
    batch_sizes = set()
    for name, tensor_spec in expected.items():
        if name not in inputs:
            raise InvalidInput(
                f"model {spec.name!r} needs input {name!r} ({_describe(tensor_spec)})",
                reason="INPUT_MISSING",
                field=f"inputs[{name}]",
            )
        batch_sizes.add(_check_tensor(spec.name, tensor_spec, inputs[name]))
    if len(batch_sizes) > 1:
        raise InvalidInput(
            f"inputs of model {spec.name!r} disagree on the batch size: {sorted(batch_sizes)}",
            reason="BATCH_SIZE_MISMATCH",
            field="inputs",
        )
    batch = batch_sizes.pop()
    first = spec.inputs[0].name
    if batch == 0:
        raise InvalidInput(
            f"input {first!r} has an empty batch; send at least one item",
            reason="BATCH_EMPTY",
            field=f"inputs[{first}].shape",
        )
    if batch > max_batch_size:
        raise InvalidInput(
            f"batch of {batch} exceeds model {spec.name!r}'s maximum of {max_batch_size}; "
            "split it into smaller requests",
            reason="BATCH_TOO_LARGE",
            field=f"inputs[{first}].shape",
            metadata={"max_batch_size": str(max_batch_size)},
        )
    return batch


def validate_output_filter(spec: ModelSpec, names: Iterable[str]) -> list[str]:
    """Return the output names to send back (all when `names` is empty)."""
    known = [t.name for t in spec.outputs]
    chosen = list(names)
    for name in chosen:
        if name not in known:
            raise InvalidInput(
                f"model {spec.name!r} has no output {name!r}; its outputs are {known}",
                reason="OUTPUT_UNKNOWN",
                field="output_filter",
            )
    return chosen or known


def _check_tensor(model: str, spec: TensorSpec, array: np.ndarray) -> int:
    if array.dtype != DTYPES_BY_NAME[spec.dtype]:
        raise InvalidInput(
            f"input {spec.name!r} of model {model!r} must be {spec.dtype}, got {array.dtype.name}",
            reason="INPUT_DTYPE_MISMATCH",
            field=f"inputs[{spec.name}].dtype",
            metadata={"expected": spec.dtype, "actual": array.dtype.name},
        )
    shape_ok = array.ndim == len(spec.shape) and all(
        want in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    )
    if not shape_ok:
        raise InvalidInput(
            f"input {spec.name!r} of model {model!r} must have shape {list(spec.shape)} "
            f"(-1 = any size), got {list(array.shape)}",
            reason="INPUT_SHAPE_MISMATCH",
            field=f"inputs[{spec.name}].shape",
            metadata={"expected": str(list(spec.shape)), "actual": str(list(array.shape))},
        )
    return array.shape[0]


def _describe(spec: TensorSpec) -> str:
    return f"{spec.dtype} {list(spec.shape)}"
