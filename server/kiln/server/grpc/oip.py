"""Servicer for the Open Inference Protocol v2 (`inference.GRPCInferenceService`).

Thin translation between the protocol's messages and Kiln's core; tensors go through
`kiln.server.oip_codecs` and every inference through `Engine.predict`, like kiln.v1.

Implemented: the core protocol (health, metadata, ModelInfer) and the Triton extensions
streaming (ModelStreamInfer), ``model_configuration``, ``statistics``,
``model_repository`` and ``parameters``. Shared memory, trace and logging are not part of
the service: their calls answer UNIMPLEMENTED, and they are not advertised.

Behaviour worth knowing:

* Outputs always travel in ``raw_output_contents`` (what tritonclient decodes), whether
  the request sent raw or typed inputs. Requested outputs select and order the outputs.
* Generative models (e.g. ``digits-gan``) answer plain ModelInfer with their inputs
  (``z``) like any model. Called **without inputs** and with the request parameter
  ``count`` (int64, 1..max_generate_count) and optionally ``seed`` (int64 >= 0, default
  0), a generative model generates instead (`Engine.generate`): the response holds all
  ``count`` samples as the model's first output (``images`` float32 [count, 28, 28, 1]
  for ``digits-gan``), the same samples kiln.v1 Generate streams for that seed.
* Request parameter ``timeout`` (microseconds) tightens the call's deadline;
  ``priority`` is accepted and has no effect; sequence parameters are refused.
* ModelStreamInfer answers each request with one ModelStreamInferResponse carrying the
  request's ``id``; a failing request gets ``error_message`` (and, as infer_response
  parameters, ``error_code`` and ``error_reason``) while the stream goes on. Responses
  come in completion order. The call ends OK once the client half-closes.
* Errors use the shared mapping (`kiln.server.grpc.status`): unknown model NOT_FOUND, bad
  input INVALID_ARGUMENT, model not loaded UNAVAILABLE, with actionable details strings.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable

import numpy as np

from kiln.oip.v2 import grpc_service_pb2 as pb
from kiln.oip.v2 import grpc_service_pb2_grpc as pb_grpc
from kiln.oip.v2 import model_config_pb2 as config_pb
from kiln.server import __version__
from kiln.server.engine import Engine, Prediction
from kiln.server.errors import (
    DeadlineExpired,
    InvalidInput,
    KilnError,
    ModelFailed,
    ModelNotFound,
    ModelNotReady,
)
from kiln.server.grpc.auth import require_admin
from kiln.server.grpc.kiln_v1 import deadline_of
from kiln.server.grpc.status import INTERNAL_MESSAGE, status_code, translate_errors
from kiln.server.grpc.streams import answer_each
from kiln.server.oip_codecs import (
    DATATYPES,
    RequestOptions,
    check_datatypes,
    datatype_of,
    decode_inputs,
    encode_raw,
    parse_parameters,
    requested_outputs,
)
from kiln.server.plugin import TensorSpec
from kiln.server.registry import ModelEntry, ModelState, ModelVersion, parse_version
from kiln.server.settings import KilnSettings
from kiln.server.stats import Duration

log = logging.getLogger(__name__)

#: Name reported by ServerMetadata.
SERVER_NAME = "kiln"
#: Platform reported for every model.
PLATFORM = "jax"
#: Extensions reported by ServerMetadata: only those Kiln implements.
EXTENSIONS = ("model_configuration", "model_repository", "statistics", "parameters")

#: Kiln's model states in Triton's repository vocabulary (a failed load is UNAVAILABLE).
_REPOSITORY_STATES = {
    ModelState.LOADING: "LOADING",
    ModelState.READY: "READY",
    ModelState.UNLOADING: "UNLOADING",
    ModelState.UNAVAILABLE: "UNAVAILABLE",
    ModelState.FAILED: "UNAVAILABLE",
}


def _tensor_metadata(spec: TensorSpec) -> pb.ModelMetadataResponse.TensorMetadata:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=datatype_of(spec.dtype), shape=spec.shape
    )


def _config_type(spec: TensorSpec) -> int:
    return config_pb.DataType.Value(DATATYPES[datatype_of(spec.dtype)].config_type)


def _duration(value: Duration) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=value.count, ns=value.ns)


def _check_version(entry: ModelEntry, version: str) -> None:
    """Raise unless `version` is '' or one of the model's versions (ready or not)."""
    wanted = parse_version(version)
    if wanted and wanted not in {v.version for v in entry.versions}:
        raise ModelNotFound(
            f"model {entry.spec.name!r} has no version {wanted}; versions: "
            f"{[v.version for v in entry.versions]}",
            reason="VERSION_NOT_FOUND",
            metadata={"model": entry.spec.name, "version": wanted},
        )


def _repository_parameters(parameters) -> None:
    for key in parameters:
        if key == "config" or key.startswith("file:"):
            raise InvalidInput(
                f"load parameter {key!r}: Kiln loads models from their plugin and the model "
                "repository; configuration and file overrides are not supported",
                reason="LOAD_OVERRIDE_UNSUPPORTED",
                field=f"parameters[{key}]",
            )


def _infer_response(request_id: str, prediction: Prediction) -> pb.ModelInferResponse:
    """The wire answer to a ModelInfer: raw output contents, the request's id echoed."""
    response = pb.ModelInferResponse(
        model_name=prediction.entry.spec.name,
        model_version=prediction.version.version,
        id=request_id,
    )
    for name, array in prediction.outputs.items():
        datatype, shape, data = encode_raw(array)
        response.outputs.add(name=name, datatype=datatype, shape=shape)
        response.raw_output_contents.append(data)
    return response


class OpenInferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """`inference.GRPCInferenceService`.

    Args:
        engine: The inference engine (and through it the registry).
        settings: Server settings (version policy, generation limits).
        is_ready: Whether the server has finished loading (what health reports).
    """

    def __init__(
        self, engine: Engine, settings: KilnSettings, is_ready: Callable[[], bool]
    ) -> None:
        self._engine = engine
        self._registry = engine.registry
        self._settings = settings
        self._is_ready = is_ready

    # --- health and metadata -----------------------------------------------------------

    @translate_errors
    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    @translate_errors
    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self._is_ready())

    @translate_errors
    async def ModelReady(self, request, context):
        try:
            self._registry.resolve(request.name, request.version)
        except (ModelNotFound, ModelNotReady):
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    @translate_errors
    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(
            name=SERVER_NAME, version=__version__, extensions=EXTENSIONS
        )

    @translate_errors
    async def ModelMetadata(self, request, context):
        entry = self._registry.entry(request.name)
        _check_version(entry, request.version)
        spec = entry.spec
        return pb.ModelMetadataResponse(
            name=spec.name,
            versions=[v.version for v in entry.versions],
            platform=PLATFORM,
            inputs=[_tensor_metadata(t) for t in spec.inputs],
            outputs=[_tensor_metadata(t) for t in spec.outputs],
        )

    @translate_errors
    async def ModelConfig(self, request, context):
        entry = self._registry.entry(request.name)
        _check_version(entry, request.version)
        spec = entry.spec
        config = config_pb.ModelConfig(
            name=spec.name,
            platform=PLATFORM,
            backend=PLATFORM,
            version_policy=config_pb.ModelVersionPolicy(
                latest=config_pb.ModelVersionPolicy.Latest(
                    num_versions=self._settings.version_policy_latest
                )
            ),
            max_batch_size=entry.max_batch_size,
            input=[
                config_pb.ModelInput(name=t.name, data_type=_config_type(t), dims=t.shape[1:])
                for t in spec.inputs
            ],
            output=[
                config_pb.ModelOutput(name=t.name, data_type=_config_type(t), dims=t.shape[1:])
                for t in spec.outputs
            ],
            dynamic_batching=config_pb.ModelDynamicBatching(
                preferred_batch_size=entry.buckets,
                max_queue_delay_microseconds=entry.batching.max_queue_delay_us,
            ),
            parameters={
                "description": config_pb.ModelParameter(string_value=spec.description),
                "plugin": config_pb.ModelParameter(
                    string_value=entry.plugin.distribution or entry.plugin.name
                ),
                "generative": config_pb.ModelParameter(string_value=str(spec.generative).lower()),
            },
        )
        return pb.ModelConfigResponse(config=config)

    # --- statistics and repository -----------------------------------------------------

    @translate_errors
    async def ModelStatistics(self, request, context):
        if request.name:
            entry = self._registry.entry(request.name)
            _check_version(entry, request.version)
            entries = [entry]
        else:
            entries = self._registry.entries()
        wanted = parse_version(request.version)
        return pb.ModelStatisticsResponse(
            model_stats=[
                self._statistics(version)
                for entry in entries
                for version in entry.versions
                if not wanted or version.version == wanted
            ]
        )

    @staticmethod
    def _statistics(version: ModelVersion) -> pb.ModelStatistics:
        stats = version.stats
        return pb.ModelStatistics(
            name=version.model_name,
            version=version.version,
            last_inference=stats.last_inference_ms,
            inference_count=stats.inference_count,
            execution_count=stats.execution_count,
            inference_stats=pb.InferStatistics(
                success=_duration(stats.success),
                fail=_duration(stats.fail),
                queue=_duration(stats.queue),
                compute_input=_duration(stats.compute_input),
                compute_infer=_duration(stats.compute_infer),
                compute_output=_duration(stats.compute_output),
            ),
            batch_stats=[
                pb.InferBatchStatistics(
                    batch_size=size,
                    compute_input=_duration(phases.compute_input),
                    compute_infer=_duration(phases.compute_infer),
                    compute_output=_duration(phases.compute_output),
                )
                for size, phases in sorted(stats.batches.items())
            ],
        )

    @translate_errors
    async def RepositoryIndex(self, request, context):
        models = []
        for entry in self._registry.entries():
            name = entry.spec.name
            if not entry.versions and not request.ready:
                reason = "no version found in the model repository or shipped with the plugin"
                models.append(
                    pb.RepositoryIndexResponse.ModelIndex(
                        name=name, state="UNAVAILABLE", reason=reason
                    )
                )
            for version in entry.versions:
                if request.ready and version.state is not ModelState.READY:
                    continue
                models.append(
                    pb.RepositoryIndexResponse.ModelIndex(
                        name=name,
                        version=version.version,
                        state=_REPOSITORY_STATES[version.state],
                        reason=version.reason,
                    )
                )
        return pb.RepositoryIndexResponse(models=models)

    @translate_errors
    async def RepositoryModelLoad(self, request, context):
        require_admin(context, self._settings)
        _repository_parameters(request.parameters)
        await self._registry.load(request.model_name)
        entry = self._registry.entry(request.model_name)
        if not any(v.state is ModelState.READY for v in entry.versions):
            reasons = "; ".join(f"version {v.version}: {v.reason}" for v in entry.versions)
            raise ModelFailed(
                f"model {request.model_name!r} failed to load ({reasons or 'no versions found'})",
                reason="MODEL_LOAD_FAILED",
                metadata={"model": request.model_name},
            )
        return pb.RepositoryModelLoadResponse()

    @translate_errors
    async def RepositoryModelUnload(self, request, context):
        require_admin(context, self._settings)
        await self._registry.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()

    # --- inference ---------------------------------------------------------------------

    @translate_errors
    async def ModelInfer(self, request, context):
        return await self._infer(request, deadline_of(context))

    async def _infer(
        self, request: pb.ModelInferRequest, deadline: float | None
    ) -> pb.ModelInferResponse:
        entry = self._registry.entry(request.model_name)
        options = parse_parameters(request.parameters)
        if options.timeout_s is not None:
            limit = time.monotonic() + options.timeout_s
            deadline = limit if deadline is None else min(deadline, limit)
        outputs = requested_outputs(request.outputs)
        encode = functools.partial(_infer_response, request.id)
        if options.count is not None and not request.inputs:
            return encode(await self._generate(request, options, outputs, deadline))
        if options.count is not None or "seed" in request.parameters:
            raise InvalidInput(
                "parameters 'count' and 'seed' ask a generative model for samples and "
                "need a request without inputs; drop them or the inputs",
                reason="PARAMETER_CONFLICT",
                field="parameters",
            )
        check_datatypes(entry.spec, request.inputs)
        return await self._engine.predict(
            request.model_name,
            request.model_version,
            decode_inputs(request.inputs, request.raw_input_contents),
            outputs,
            deadline,
            encode,
        )

    async def _generate(
        self,
        request: pb.ModelInferRequest,
        options: RequestOptions,
        outputs: list[str],
        deadline: float | None,
    ) -> Prediction:
        """All `count` samples of a generative model as its first output."""
        entry, version, chunk_size = self._engine.check_generate(
            request.model_name, request.model_version, options.count or 0, 0
        )
        output = entry.spec.outputs[0]
        for name in outputs:
            if name != output.name:
                raise InvalidInput(
                    f"generation returns only output {output.name!r}; model "
                    f"{entry.spec.name!r} cannot produce {name!r} without inputs",
                    reason="OUTPUT_UNKNOWN",
                    field=f"outputs[{name}]",
                )
        timeout = None if deadline is None else deadline - time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                chunks = [
                    chunk
                    async for chunk in self._engine.generate(
                        version, options.count or 0, options.seed, chunk_size
                    )
                ]
        except TimeoutError:
            raise DeadlineExpired("the request's timeout passed while generating") from None
        samples = np.concatenate(chunks).astype(output.dtype, copy=False)
        return Prediction(entry, version, {output.name: samples})

    @translate_errors
    async def ModelStreamInfer(self, request_iterator, context):
        deadline = deadline_of(context)

        async def answer(request: pb.ModelInferRequest) -> pb.ModelStreamInferResponse:
            response = pb.ModelStreamInferResponse()
            try:
                response.infer_response.CopyFrom(await self._infer(request, deadline))
                response.infer_response.parameters["triton_final_response"].bool_param = True
            except Exception as err:
                response.error_message = self._stream_error(request, err, response)
            return response

        async for response in answer_each(request_iterator, answer):
            yield response

    @staticmethod
    def _stream_error(
        request: pb.ModelInferRequest, err: Exception, response: pb.ModelStreamInferResponse
    ) -> str:
        """Fill the failed response's id and error parameters; return the message."""
        failed = response.infer_response
        failed.Clear()
        failed.id = request.id
        failed.model_name = request.model_name
        failed.model_version = request.model_version
        if isinstance(err, KilnError):
            code, reason, message = status_code(err).name, err.reason, err.message
        else:
            log.error("ModelStreamInfer request %r failed unexpectedly", request.id, exc_info=err)
            code, reason, message = "INTERNAL", "INTERNAL", INTERNAL_MESSAGE
        failed.parameters["error_code"].string_param = code
        failed.parameters["error_reason"].string_param = reason
        return message
