"""The requests every target is sent, as serialized bytes, and the RPC paths they go to.

One place decides what a workload's request is, so the load generator, the empty-handler
server and the report agree byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiln.client.tensors import to_tensor
from kiln.oip.v2 import grpc_service_pb2 as oip_pb2
from kiln.v1 import inference_service_pb2 as kiln_pb2

#: Unary inference methods, by protocol.
PREDICT_METHODS = {
    "kiln.v1": "/kiln.v1.InferenceService/Predict",
    "oip": "/inference.GRPCInferenceService/ModelInfer",
}
#: kiln.v1 server-streaming generation.
GENERATE_METHOD = "/kiln.v1.InferenceService/Generate"

#: OIP datatype strings of the numpy dtypes used here.
_OIP_DATATYPES = {"float32": "FP32", "int64": "INT64"}


@dataclass(frozen=True)
class Workload:
    """One kind of unary request.

    Attributes:
        name: Short name used in tables (``digits-b1``).
        model: Model called.
        inputs: Input arrays (batch axis first).
        outputs: Output names and shapes the model answers with (for the empty handler).
        samples: Items per request (the batch size), for samples/s.
        parameters: OIP request parameters (int64), e.g. ``count`` for generation.
    """

    name: str
    model: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, tuple[tuple[int, ...], str]]
    samples: int
    parameters: tuple[tuple[str, int], ...] = ()


def _digits(batch: int) -> Workload:
    rng = np.random.default_rng(0)
    return Workload(
        name=f"digits-b{batch}",
        model="digits",
        inputs={"image": rng.random((batch, 28, 28, 1), dtype=np.float32)},
        outputs={
            "logits": ((batch, 10), "float32"),
            "probabilities": ((batch, 10), "float32"),
            "label": ((batch,), "int64"),
        },
        samples=batch,
    )


def _gan(batch: int) -> Workload:
    rng = np.random.default_rng(0)
    return Workload(
        name=f"gan-b{batch}",
        model="digits-gan",
        inputs={"z": rng.standard_normal((batch, 100), dtype=np.float32)},
        outputs={"images": ((batch, 28, 28, 1), "float32")},
        samples=batch,
    )


def _gan_generate(count: int) -> Workload:
    return Workload(
        name=f"gan-gen{count}",
        model="digits-gan",
        inputs={},
        outputs={"images": ((count, 28, 28, 1), "float32")},
        samples=count,
        parameters=(("count", count), ("seed", 7)),
    )


WORKLOADS: dict[str, Workload] = {w.name: w for w in (_digits(1), _gan(16), _gan_generate(256))}


def predict_request(protocol: str, workload: Workload) -> bytes:
    """The serialized unary request of `workload` in `protocol` (raw tensor bytes)."""
    if protocol == "kiln.v1":
        if workload.parameters:
            raise ValueError(f"{workload.name} has no kiln.v1 unary form; use Generate")
        return kiln_pb2.PredictRequest(
            model=workload.model,
            inputs={name: to_tensor(array) for name, array in workload.inputs.items()},
        ).SerializeToString()
    request = oip_pb2.ModelInferRequest(model_name=workload.model)
    for name, array in workload.inputs.items():
        request.inputs.add(name=name, datatype=_OIP_DATATYPES[array.dtype.name], shape=array.shape)
        request.raw_input_contents.append(array.tobytes())
    for key, value in workload.parameters:
        request.parameters[key].int64_param = value
    return request.SerializeToString()


def predict_response(protocol: str, workload: Workload) -> bytes:
    """A response of exactly the size Kiln answers `workload` with (zeros for values)."""
    arrays = {
        name: np.zeros(shape, dtype=dtype) for name, (shape, dtype) in workload.outputs.items()
    }
    if protocol == "kiln.v1":
        return kiln_pb2.PredictResponse(
            model=workload.model,
            version="1",
            outputs={name: to_tensor(array) for name, array in arrays.items()},
        ).SerializeToString()
    response = oip_pb2.ModelInferResponse(model_name=workload.model, model_version="1")
    for name, array in arrays.items():
        response.outputs.add(
            name=name, datatype=_OIP_DATATYPES[array.dtype.name], shape=array.shape
        )
        response.raw_output_contents.append(array.tobytes())
    return response.SerializeToString()


def generate_request(count: int, chunk_size: int, seed: int = 7) -> bytes:
    """A serialized kiln.v1 GenerateRequest for `digits-gan` (tensor encoding)."""
    return kiln_pb2.GenerateRequest(
        model="digits-gan", count=count, seed=seed, chunk_size=chunk_size
    ).SerializeToString()


def check_response(protocol: str, workload: Workload, data: bytes) -> None:
    """Raise ValueError unless `data` is a well-formed answer to `workload`."""
    if protocol == "kiln.v1":
        response = kiln_pb2.PredictResponse.FromString(data)
        names = set(response.outputs)
        shapes = {n: tuple(t.shape) for n, t in response.outputs.items()}
    else:
        response = oip_pb2.ModelInferResponse.FromString(data)
        names = {o.name for o in response.outputs}
        shapes = {o.name: tuple(o.shape) for o in response.outputs}
    want = {name: shape for name, (shape, _) in workload.outputs.items()}
    if names != set(want) or any(shapes[n] != want[n] for n in want):
        raise ValueError(f"unexpected {protocol} response to {workload.name}: {shapes}")
