"""End to end over gRPC on port 0: every kind of bad input gets its code and reason."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from kiln.client import (
    Client,
    InternalError,
    InvalidArgumentError,
    KilnError,
    NotFoundError,
    UnavailableError,
)
from kiln.v1 import inference_service_pb2, inference_service_pb2_grpc, tensor_pb2


@pytest.fixture
def client(fake_server):
    with Client(fake_server.address, timeout=10) as c:
        yield c


def x(rows: int) -> np.ndarray:
    return np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)


def test_predict_returns_every_output(client):
    out = client.predict("scale", {"x": x(2)})
    np.testing.assert_array_equal(out["doubled"], x(2) * 2)
    assert out["total"].dtype == np.float64
    np.testing.assert_array_equal(out["total"], [3.0, 12.0])


def test_output_filter_returns_only_what_was_asked(client):
    assert set(client.predict("scale", {"x": x(1)}, outputs=["total"])) == {"total"}


def expect(call, error: type[KilnError], reason: str, field: str | None = None) -> KilnError:
    with pytest.raises(error) as info:
        call()
    assert info.value.reason == reason
    if field is not None:
        assert info.value.field == field
    return info.value


def test_unknown_model_is_not_found(client):
    err = expect(lambda: client.predict("nope", {"x": x(1)}), NotFoundError, "MODEL_NOT_FOUND")
    assert err.code == grpc.StatusCode.NOT_FOUND
    assert "scale" in err.message  # says which models exist


def test_unknown_version_is_not_found(client):
    expect(
        lambda: client.predict("scale", {"x": x(1)}, version="7"),
        NotFoundError,
        "VERSION_NOT_FOUND",
    )


def test_malformed_version_is_invalid(client):
    expect(
        lambda: client.predict("scale", {"x": x(1)}, version="latest"),
        InvalidArgumentError,
        "VERSION_INVALID",
        "version",
    )


def test_missing_input(client):
    expect(lambda: client.predict("scale", {}), InvalidArgumentError, "INPUT_MISSING", "inputs[x]")


def test_extra_input(client):
    expect(
        lambda: client.predict("scale", {"x": x(1), "y": x(1)}),
        InvalidArgumentError,
        "INPUT_UNEXPECTED",
        "inputs[y]",
    )


def test_wrong_dtype(client):
    err = expect(
        lambda: client.predict("scale", {"x": x(1).astype(np.float64)}),
        InvalidArgumentError,
        "INPUT_DTYPE_MISMATCH",
        "inputs[x].dtype",
    )
    assert err.metadata == {"expected": "float32", "actual": "float64"}


def test_wrong_rank(client):
    expect(
        lambda: client.predict("scale", {"x": np.zeros(3, np.float32)}),
        InvalidArgumentError,
        "INPUT_SHAPE_MISMATCH",
        "inputs[x].shape",
    )


def test_wrong_dims(client):
    expect(
        lambda: client.predict("scale", {"x": np.zeros((2, 4), np.float32)}),
        InvalidArgumentError,
        "INPUT_SHAPE_MISMATCH",
        "inputs[x].shape",
    )


def test_empty_batch(client):
    expect(
        lambda: client.predict("scale", {"x": np.zeros((0, 3), np.float32)}),
        InvalidArgumentError,
        "BATCH_EMPTY",
    )


def test_batch_above_maximum(client):
    err = expect(
        lambda: client.predict("scale", {"x": x(9)}), InvalidArgumentError, "BATCH_TOO_LARGE"
    )
    assert err.metadata["max_batch_size"] == "8"


def raw_predict(address: str, tensor: tensor_pb2.Tensor):
    with grpc.insecure_channel(address) as channel:
        stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
        return stub.Predict(
            inference_service_pb2.PredictRequest(model="scale", inputs={"x": tensor})
        )


@pytest.mark.parametrize(
    ("tensor", "reason", "field"),
    [
        (
            tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_FLOAT32, shape=[1, 3], content=b"\0" * 11),
            "INPUT_CONTENT_SIZE_MISMATCH",
            "inputs[x].content",
        ),
        (
            tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_UNSPECIFIED, shape=[1, 3], content=b""),
            "INPUT_DTYPE_INVALID",
            "inputs[x].dtype",
        ),
        (
            tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_FLOAT32, shape=[-1, 3], content=b""),
            "INPUT_SHAPE_INVALID",
            "inputs[x].shape",
        ),
    ],
)
def test_malformed_tensors(fake_server, tensor, reason, field):
    from kiln.client.errors import from_rpc_error

    with pytest.raises(grpc.RpcError) as info:
        raw_predict(fake_server.address, tensor)
    err = from_rpc_error(info.value)
    assert (err.code, err.reason, err.field) == (grpc.StatusCode.INVALID_ARGUMENT, reason, field)


def test_model_that_failed_to_load_is_unavailable(client):
    err = expect(lambda: client.predict("broken", {"x": x(1)}), UnavailableError, "MODEL_NOT_READY")
    assert "corrupt" in err.message
    states = {m.name: m.versions[0].state for m in client.list_models()}
    assert states == {"broken": "FAILED", "noise": "READY", "scale": "READY"}


def test_model_exception_is_internal_and_server_keeps_serving(client, fake_plugin):
    poisoned = np.full((1, 3), fake_plugin.poison, np.float32)
    err = expect(lambda: client.predict("scale", {"x": poisoned}), InternalError, "MODEL_FAILED")
    assert "secret" not in err.message
    np.testing.assert_array_equal(client.predict("scale", {"x": x(1)})["doubled"], x(1) * 2)


def test_oversized_message_is_refused_not_fatal(client):
    big = np.zeros((8, 3), np.float32)
    with pytest.raises(KilnError) as info:
        client.predict("scale", {"x": big, "padding": np.zeros(100_000, np.float32)})
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.predict("scale", {"x": x(1)})["total"][0] == 3.0
