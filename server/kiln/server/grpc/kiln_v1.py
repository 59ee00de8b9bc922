"""Servicers for the native `kiln.v1` API: thin translation between protos and the core."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import grpc
import numpy as np

from kiln.client.tensors import DATA_TYPES_BY_NAME
from kiln.server.codecs import decode_inputs, encode_outputs, fill_tensor
from kiln.server.engine import Engine, Prediction
from kiln.server.errors import KilnError
from kiln.server.grpc.status import to_stream_error, translate_errors
from kiln.server.grpc.streams import answer_each
from kiln.server.plugin import TensorSpec
from kiln.server.registry import ModelEntry, ModelState
from kiln.v1 import (
    inference_service_pb2 as inference_pb2,
)
from kiln.v1 import (
    inference_service_pb2_grpc as inference_grpc,
)
from kiln.v1 import (
    model_service_pb2 as model_pb2,
)
from kiln.v1 import (
    model_service_pb2_grpc as model_grpc,
)
from kiln.v1 import (
    tensor_pb2,
)

log = logging.getLogger(__name__)

_STATES = {
    ModelState.LOADING: model_pb2.MODEL_STATE_LOADING,
    ModelState.READY: model_pb2.MODEL_STATE_READY,
    ModelState.UNLOADING: model_pb2.MODEL_STATE_UNLOADING,
    ModelState.UNAVAILABLE: model_pb2.MODEL_STATE_UNAVAILABLE,
    ModelState.FAILED: model_pb2.MODEL_STATE_FAILED,
}


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The call's deadline as an absolute `time.monotonic()`, or None.

    The model's worker thread compares it with `time.monotonic()` when it takes a batch.
    """
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _signature(spec: TensorSpec) -> tensor_pb2.TensorSignature:
    return tensor_pb2.TensorSignature(
        name=spec.name,
        dtype=DATA_TYPES_BY_NAME[spec.dtype],
        shape=spec.shape,
        description=spec.description,
    )


def model_message(entry: ModelEntry) -> model_pb2.Model:
    """The wire description of a model."""
    spec = entry.spec
    capabilities = [model_pb2.CAPABILITY_PREDICT]
    if spec.generative:
        capabilities.append(model_pb2.CAPABILITY_GENERATE)
    return model_pb2.Model(
        name=spec.name,
        description=spec.description,
        plugin=entry.plugin.distribution or entry.plugin.name,
        versions=[
            model_pb2.ModelVersion(version=v.version, state=_STATES[v.state], reason=v.reason)
            for v in entry.versions
        ],
        inputs=[_signature(t) for t in spec.inputs],
        outputs=[_signature(t) for t in spec.outputs],
        max_batch_size=entry.max_batch_size,
        capabilities=capabilities,
    )


class ModelServicer(model_grpc.ModelServiceServicer):
    """`kiln.v1.ModelService`."""

    def __init__(self, engine: Engine) -> None:
        self._registry = engine.registry

    @translate_errors
    async def ListModels(self, request, context):
        return model_pb2.ListModelsResponse(
            models=[model_message(e) for e in self._registry.entries()]
        )

    @translate_errors
    async def GetModel(self, request, context):
        return model_pb2.GetModelResponse(model=model_message(self._registry.entry(request.name)))


def _predict_response(prediction: Prediction) -> inference_pb2.PredictResponse:
    """The wire answer to a Predict (built on the model's worker thread)."""
    return inference_pb2.PredictResponse(
        model=prediction.entry.spec.name,
        version=prediction.version.version,
        outputs=encode_outputs(prediction.outputs),
    )


class InferenceServicer(inference_grpc.InferenceServiceServicer):
    """`kiln.v1.InferenceService`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @translate_errors
    async def Predict(self, request, context):
        return await self._predict(request, deadline_of(context))

    async def _predict(self, request, deadline: float | None) -> inference_pb2.PredictResponse:
        return await self._engine.predict(
            request.model,
            request.version,
            decode_inputs(request.inputs),
            request.output_filter,
            deadline,
            _predict_response,
        )

    @translate_errors
    async def StreamPredict(self, request_iterator, context):
        deadline = deadline_of(context)

        async def answer(item: inference_pb2.StreamPredictRequest):
            response = inference_pb2.StreamPredictResponse(request_id=item.request_id)
            try:
                response.response.CopyFrom(await self._predict(item.request, deadline))
            except Exception as err:
                if not isinstance(err, KilnError):
                    log.exception("StreamPredict item %r failed unexpectedly", item.request_id)
                response.error.CopyFrom(to_stream_error(err))
            return response

        async for response in answer_each(request_iterator, answer):
            yield response

    @translate_errors
    async def Generate(self, request, context) -> AsyncIterator[inference_pb2.GenerateResponse]:
        _, version, chunk_size = self._engine.check_generate(
            request.model, request.version, request.count, request.chunk_size
        )
        encodings = set(request.encodings) - {inference_pb2.SAMPLE_ENCODING_UNSPECIFIED}
        encodings = encodings or {inference_pb2.SAMPLE_ENCODING_TENSOR}
        model = version.model

        def encode(samples: np.ndarray) -> inference_pb2.GenerateResponse:
            # On the model's worker thread, right after the model produced the chunk.
            response = inference_pb2.GenerateResponse(samples_done=len(samples))
            if inference_pb2.SAMPLE_ENCODING_TENSOR in encodings:
                fill_tensor(response.samples, samples)
            if inference_pb2.SAMPLE_ENCODING_PNG in encodings:
                response.png.extend(model.samples_to_png(samples))
            return response

        done = 0
        index = 0
        async for response in self._engine.generate(
            version, request.count, request.seed, chunk_size, encode
        ):
            done += response.samples_done
            response.chunk_index = index
            response.samples_done = done
            response.samples_total = request.count
            index += 1
            yield response
