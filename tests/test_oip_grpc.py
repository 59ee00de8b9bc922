"""`inference.GRPCInferenceService` over gRPC with Kiln's own stubs, against a real server.

What tritonclient cannot show: typed inputs, error reasons (ErrorInfo) and fields, the
stream's per-request error parameters, health and reflection. The server (fake models
scale, noise, broken, mixed) is shared by the module: statistics are compared as deltas.
"""

from __future__ import annotations

import functools

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kiln.client.errors import from_rpc_error
from kiln.oip.v2 import grpc_service_pb2 as pb
from kiln.oip.v2 import grpc_service_pb2_grpc as pb_grpc
from kiln.server.grpc.streams import STREAM_WINDOW
from kiln.server.oip_codecs import DATATYPES
from kiln.server.settings import KilnSettings
from kiln.server.testing import running_server

SERVICE = "inference.GRPCInferenceService"
Input = pb.ModelInferRequest.InferInputTensor
Output = pb.ModelInferRequest.InferRequestedOutputTensor


@pytest.fixture(scope="module")
def channel(oip_server):
    with grpc.insecure_channel(oip_server.address) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return pb_grpc.GRPCInferenceServiceStub(channel)


def x(rows: int) -> np.ndarray:
    return np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)


def scale_request(rows: int = 1, **fields) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(
        model_name="scale",
        inputs=[Input(name="x", datatype="FP32", shape=[rows, 3])],
        raw_input_contents=[x(rows).tobytes()],
        **fields,
    )


def outputs_of(response: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    """Decode raw outputs the way tritonclient does (position, datatype, shape)."""
    assert len(response.raw_output_contents) == len(response.outputs)
    return {
        o.name: np.frombuffer(raw, DATATYPES[o.datatype].dtype).reshape(o.shape)
        for o, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }


def expect(call, code: grpc.StatusCode, reason: str, field: str | None = None):
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = from_rpc_error(info.value)
    assert (err.code, err.reason) == (code, reason), err.message
    if field is not None:
        assert err.field == field
    return err


# --- health and metadata ---------------------------------------------------------------


def test_live_and_ready(stub, oip_server):
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready


def test_server_ready_follows_health(stub, channel, oip_server):
    health = health_pb2_grpc.HealthStub(channel)
    check = health_pb2.HealthCheckRequest(service=SERVICE)
    assert health.Check(check).status == health_pb2.HealthCheckResponse.SERVING
    oip_server.call(oip_server.server.set_serving(False))
    try:
        assert not stub.ServerReady(pb.ServerReadyRequest()).ready
        assert health.Check(check).status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        oip_server.call(oip_server.server.set_serving(True))
    assert stub.ServerReady(pb.ServerReadyRequest()).ready


def test_model_ready(stub):
    def ready(name: str, version: str = "") -> bool:
        return stub.ModelReady(pb.ModelReadyRequest(name=name, version=version)).ready

    assert ready("scale") and ready("scale", "1")
    assert not ready("nope") and not ready("scale", "2") and not ready("broken")
    expect(
        lambda: ready("scale", "latest"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VERSION_INVALID",
    )


def test_server_metadata_lists_only_implemented_extensions(stub):
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert meta.name == "kiln" and meta.version
    assert sorted(meta.extensions) == [
        "model_configuration",
        "model_repository",
        "parameters",
        "statistics",
    ]


def test_model_metadata(stub):
    meta = stub.ModelMetadata(pb.ModelMetadataRequest(name="mixed"))
    assert (meta.name, list(meta.versions), meta.platform) == ("mixed", ["1"], "jax")
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        ("ids", "INT64", [-1, 2]),
        ("half", "FP16", [-1, 2]),
    ]
    expect(
        lambda: stub.ModelMetadata(pb.ModelMetadataRequest(name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
    expect(
        lambda: stub.ModelMetadata(pb.ModelMetadataRequest(name="scale", version="3")),
        grpc.StatusCode.NOT_FOUND,
        "VERSION_NOT_FOUND",
    )


def test_model_config_describes_batching(stub):
    config = stub.ModelConfig(pb.ModelConfigRequest(name="noise")).config
    assert (config.name, config.platform, config.max_batch_size) == ("noise", "jax", 4)
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [("x", 11, [3])]
    assert list(config.dynamic_batching.preferred_batch_size) == [1, 4]
    assert config.dynamic_batching.max_queue_delay_microseconds == 1500  # per-model setting
    assert config.parameters["generative"].string_value == "true"
    assert config.parameters["plugin"].string_value == "fake"


def test_reflection_lists_the_service(channel):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = reflection.ServerReflectionInfo(iter([request]))
    assert SERVICE in {s.name for s in response.list_services_response.service}


def test_extensions_kiln_does_not_implement_are_unimplemented(channel):
    call = channel.unary_unary(f"/{SERVICE}/SystemSharedMemoryStatus")
    with pytest.raises(grpc.RpcError) as info:
        call(b"")
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


# --- inference -------------------------------------------------------------------------


def test_infer_raw(stub):
    response = stub.ModelInfer(scale_request(2, id="req-7"))
    assert (response.model_name, response.model_version, response.id) == ("scale", "1", "req-7")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("doubled", "FP32", [2, 3]),
        ("total", "FP64", [2]),
    ]
    out = outputs_of(response)
    np.testing.assert_array_equal(out["doubled"], x(2) * 2)
    np.testing.assert_array_equal(out["total"], [3.0, 12.0])


def test_typed_inputs_still_get_raw_outputs(stub):
    request = pb.ModelInferRequest(
        model_name="mixed",
        inputs=[Input(name="ids", datatype="INT64", shape=[1, 2])],
    )
    request.inputs[0].contents.int64_contents.extend([2**40, 5])
    half = Input(name="half", datatype="FP16", shape=[1, 2])
    half.contents.fp32_contents.extend([1.0, 2.0])
    request.inputs.append(half)
    # FP16 has no typed list, and raw cannot be mixed with contents: FP16 needs all-raw.
    expect(
        lambda: stub.ModelInfer(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INPUT_CONTENTS_UNSUPPORTED",
        "inputs[half].contents",
    )
    typed = pb.ModelInferRequest(
        model_name="scale", inputs=[Input(name="x", datatype="FP32", shape=[2, 3])]
    )
    typed.inputs[0].contents.fp32_contents.extend(range(6))
    response = stub.ModelInfer(typed)
    assert not any(o.HasField("contents") for o in response.outputs)
    np.testing.assert_array_equal(outputs_of(response)["total"], [3.0, 12.0])


def test_requested_outputs_select_and_order(stub):
    request = scale_request(1, outputs=[Output(name="total"), Output(name="doubled")])
    assert [o.name for o in stub.ModelInfer(request).outputs] == ["total", "doubled"]
    expect(
        lambda: stub.ModelInfer(scale_request(1, outputs=[Output(name="nope")])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "OUTPUT_UNKNOWN",
    )


@pytest.mark.parametrize(
    ("change", "code", "reason", "field"),
    [
        (
            lambda r: setattr(r, "model_name", "nope"),
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
            None,
        ),
        (
            lambda r: setattr(r.inputs[0], "datatype", "INT32"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INPUT_DTYPE_MISMATCH",
            "inputs[x].datatype",
        ),
        (
            lambda r: setattr(r.inputs[0], "datatype", "FLOAT32"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INPUT_DATATYPE_UNKNOWN",
            "inputs[x].datatype",
        ),
        (
            lambda r: r.inputs[0].shape.__setitem__(1, 4),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INPUT_CONTENT_SIZE_MISMATCH",
            "raw_input_contents[0]",
        ),
        (
            lambda r: r.raw_input_contents.append(b""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "RAW_INPUT_COUNT_MISMATCH",
            "raw_input_contents",
        ),
        (
            lambda r: r.inputs[0].contents.fp32_contents.append(1.0),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INPUT_CONTENTS_MIXED",
            "inputs[x].contents",
        ),
        (
            lambda r: setattr(r.inputs[0], "name", "y"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INPUT_UNEXPECTED",
            "inputs[y]",
        ),
        (
            lambda r: setattr(r, "model_version", "x1"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "VERSION_INVALID",
            None,
        ),
        (
            lambda r: setattr(r, "model_name", "broken"),
            grpc.StatusCode.UNAVAILABLE,
            "MODEL_NOT_READY",
            None,
        ),
    ],
)
def test_infer_errors(stub, change, code, reason, field):
    request = scale_request(1)
    change(request)
    expect(lambda: stub.ModelInfer(request), code, reason, field)


def test_wrong_shape_is_refused_with_the_expected_shape(stub):
    request = pb.ModelInferRequest(
        model_name="scale",
        inputs=[Input(name="x", datatype="FP32", shape=[1, 4])],
        raw_input_contents=[np.zeros((1, 4), np.float32).tobytes()],
    )
    err = expect(
        lambda: stub.ModelInfer(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INPUT_SHAPE_MISMATCH",
        "inputs[x].shape",
    )
    assert "[-1, 3]" in err.message and "[1, 4]" in err.message


def test_model_failure_is_internal_and_hides_details(stub, oip_server):
    request = scale_request(1)
    request.raw_input_contents[0] = np.full((1, 3), -999.0, np.float32).tobytes()
    err = expect(lambda: stub.ModelInfer(request), grpc.StatusCode.INTERNAL, "MODEL_FAILED")
    assert "secret" not in err.message


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("sequence_id", pb.InferParameter(int64_param=4), "PARAMETER_UNSUPPORTED"),
        ("timeout", pb.InferParameter(string_param="1s"), "PARAMETER_TYPE_INVALID"),
        ("seed", pb.InferParameter(int64_param=1), "PARAMETER_CONFLICT"),
    ],
)
def test_bad_request_parameters(stub, key, value, reason):
    request = scale_request(1)
    request.parameters[key].CopyFrom(value)
    expect(lambda: stub.ModelInfer(request), grpc.StatusCode.INVALID_ARGUMENT, reason)


def test_timeout_parameter_is_a_deadline(stub):
    request = scale_request(1)
    request.parameters["timeout"].int64_param = 1  # microseconds: expires while queued
    expect(lambda: stub.ModelInfer(request), grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED")


# --- generation through ModelInfer -----------------------------------------------------


def generate(count: int, seed: int | None = None, model: str = "noise", **fields):
    request = pb.ModelInferRequest(model_name=model, **fields)
    request.parameters["count"].int64_param = count
    if seed is not None:
        request.parameters["seed"].uint64_param = seed
    return request


def test_count_and_seed_generate_every_sample_in_one_output(stub):
    response = stub.ModelInfer(generate(7, seed=5, id="g"))
    assert response.id == "g" and [o.name for o in response.outputs] == ["doubled"]
    samples = outputs_of(response)["doubled"]
    i = np.arange(7, dtype=np.float32)
    np.testing.assert_array_equal(samples, np.stack([np.full(7, 5.0), i, i * i], axis=1))
    default_seed = outputs_of(stub.ModelInfer(generate(2)))["doubled"]
    np.testing.assert_array_equal(default_seed[:, 0], [0.0, 0.0])


@pytest.mark.parametrize(
    ("request_", "code", "reason"),
    [
        (generate(0), grpc.StatusCode.INVALID_ARGUMENT, "COUNT_OUT_OF_RANGE"),
        (generate(1001), grpc.StatusCode.INVALID_ARGUMENT, "COUNT_OUT_OF_RANGE"),
        (generate(2, model="scale"), grpc.StatusCode.FAILED_PRECONDITION, "GENERATION_UNSUPPORTED"),
        (
            generate(2, outputs=[Output(name="total")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "OUTPUT_UNKNOWN",
        ),
    ],
)
def test_generation_errors(stub, request_, code, reason):
    expect(lambda: stub.ModelInfer(request_), code, reason)


# --- streaming -------------------------------------------------------------------------


def test_stream_answers_every_request_and_reports_errors_in_band(stub):
    requests = [scale_request(rows, id=f"r{rows}") for rows in (1, 2, 3)]
    requests.insert(1, pb.ModelInferRequest(model_name="nope", id="bad"))
    requests.append(generate(3, seed=2, id="gen"))
    responses = {r.infer_response.id: r for r in stub.ModelStreamInfer(iter(requests))}
    assert sorted(responses) == ["bad", "gen", "r1", "r2", "r3"]
    bad = responses.pop("bad")
    assert "no model named 'nope'" in bad.error_message
    assert bad.infer_response.parameters["error_code"].string_param == "NOT_FOUND"
    assert bad.infer_response.parameters["error_reason"].string_param == "MODEL_NOT_FOUND"
    assert not bad.infer_response.outputs
    for rows in (1, 2, 3):
        ok = responses[f"r{rows}"]
        assert ok.error_message == ""
        assert ok.infer_response.parameters["triton_final_response"].bool_param
        np.testing.assert_array_equal(outputs_of(ok.infer_response)["doubled"], x(rows) * 2)
    assert outputs_of(responses["gen"].infer_response)["doubled"].shape == (3, 3)


def test_stream_of_more_requests_than_the_window(stub):
    count = STREAM_WINDOW * 2 + 5
    requests = (scale_request(1, id=str(i)) for i in range(count))
    ids = [r.infer_response.id for r in stub.ModelStreamInfer(requests) if not r.error_message]
    assert sorted(ids, key=int) == [str(i) for i in range(count)]


def test_stream_ends_ok_when_the_client_half_closes(stub):
    call = stub.ModelStreamInfer(iter([]))
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


# --- statistics and repository ---------------------------------------------------------


def mixed_stats(stub) -> pb.ModelStatistics:
    (stats,) = stub.ModelStatistics(pb.ModelStatisticsRequest(name="mixed")).model_stats
    return stats


def mixed_request(rows: int) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(
        model_name="mixed",
        inputs=[
            Input(name="ids", datatype="INT64", shape=[rows, 2]),
            Input(name="half", datatype="FP16", shape=[rows, 2]),
        ],
        raw_input_contents=[
            np.ones((rows, 2), np.int64).tobytes(),
            np.ones((rows, 2), np.float16).tobytes(),
        ],
    )


def test_statistics_count_what_was_sent(stub):
    before = mixed_stats(stub)
    for rows in (1, 3, 3):
        stub.ModelInfer(mixed_request(rows))
    expect(
        lambda: stub.ModelInfer(mixed_request(5)),  # above max_batch_size: refused unrun
        grpc.StatusCode.INVALID_ARGUMENT,
        "BATCH_TOO_LARGE",
    )
    after = mixed_stats(stub)
    assert (after.name, after.version) == ("mixed", "1")
    assert after.inference_count - before.inference_count == 7
    assert after.execution_count - before.execution_count == 3
    assert after.inference_stats.success.count - before.inference_stats.success.count == 3
    assert after.inference_stats.fail.count == before.inference_stats.fail.count
    assert after.inference_stats.queue.count - before.inference_stats.queue.count == 3
    assert after.last_inference > 0
    per_size = {b.batch_size: b.compute_infer.count for b in after.batch_stats}
    per_size_before = {b.batch_size: b.compute_infer.count for b in before.batch_stats}
    assert per_size[3] - per_size_before.get(3, 0) == 2
    assert per_size[1] - per_size_before.get(1, 0) == 1
    names = {s.name for s in stub.ModelStatistics(pb.ModelStatisticsRequest()).model_stats}
    assert names == {"broken", "mixed", "noise", "scale"}
    expect(
        lambda: stub.ModelStatistics(pb.ModelStatisticsRequest(name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )


def test_repository_index(stub):
    index = stub.RepositoryIndex(pb.RepositoryIndexRequest())
    states = {(m.name, m.version): (m.state, m.reason) for m in index.models}
    assert states[("scale", "1")] == ("READY", "")
    assert states[("broken", "1")] == ("UNAVAILABLE", "OSError: weights file is corrupt")
    ready = stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True))
    assert {m.name for m in ready.models} == {"mixed", "noise", "scale"}


def test_unload_then_load(stub):
    unload = pb.RepositoryModelUnloadRequest(model_name="mixed")
    unload.parameters["unload_dependents"].bool_param = False  # what tritonclient sends
    stub.RepositoryModelUnload(unload)
    try:
        assert not stub.ModelReady(pb.ModelReadyRequest(name="mixed")).ready
        expect(
            lambda: stub.ModelInfer(mixed_request(1)),
            grpc.StatusCode.UNAVAILABLE,
            "MODEL_NOT_READY",
        )
    finally:
        stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="mixed"))
    assert stub.ModelReady(pb.ModelReadyRequest(name="mixed")).ready
    assert outputs_of(stub.ModelInfer(mixed_request(1)))["ids_sum"].tolist() == [2]


def test_admin_token_guards_load_and_unload(fake_plugin):
    settings = KilnSettings(admin_token="s3cret")
    with (
        running_server(settings, plugins=[("fake", fake_plugin)], entry_points=False) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        calls = {
            "unload": lambda **kw: stub.RepositoryModelUnload(
                pb.RepositoryModelUnloadRequest(model_name="scale"), **kw
            ),
            "load": lambda **kw: stub.RepositoryModelLoad(
                pb.RepositoryModelLoadRequest(model_name="scale"), **kw
            ),
        }
        for call in calls.values():
            err = expect(call, grpc.StatusCode.UNAUTHENTICATED, "ADMIN_TOKEN_REQUIRED")
            assert "authorization: Bearer" in err.message
            expect(
                functools.partial(call, metadata=[("authorization", "Bearer wrong")]),
                grpc.StatusCode.UNAUTHENTICATED,
                "ADMIN_TOKEN_INVALID",
            )
        # The refused calls changed nothing, and reading needs no token.
        assert stub.ModelReady(pb.ModelReadyRequest(name="scale")).ready
        admin = [("authorization", "Bearer s3cret")]
        calls["unload"](metadata=admin)
        assert not stub.ModelReady(pb.ModelReadyRequest(name="scale")).ready
        calls["load"](metadata=admin)
        assert stub.ModelReady(pb.ModelReadyRequest(name="scale")).ready


def test_load_errors(stub):
    expect(
        lambda: stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
    err = expect(
        lambda: stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="broken")),
        grpc.StatusCode.INTERNAL,
        "MODEL_LOAD_FAILED",
    )
    assert "weights file is corrupt" in err.message
    override = pb.RepositoryModelLoadRequest(model_name="scale")
    override.parameters["config"].string_param = "{}"
    expect(
        lambda: stub.RepositoryModelLoad(override),
        grpc.StatusCode.INVALID_ARGUMENT,
        "LOAD_OVERRIDE_UNSUPPORTED",
        "parameters[config]",
    )
    expect(
        lambda: stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
