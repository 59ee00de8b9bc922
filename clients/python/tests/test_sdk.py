"""The Python SDK against a real server: TLS, errors, independence from the server package."""

from __future__ import annotations

import subprocess
import sys
from concurrent import futures

import grpc
import numpy as np
import pytest

from kiln.client import Client, InternalError, KilnError, NotFoundError, UnavailableError
from kiln.server.settings import KilnSettings
from kiln.server.testing import running_server
from kiln.v1 import inference_service_pb2, inference_service_pb2_grpc


def test_the_sdk_does_not_pull_in_jax_or_the_server():
    code = (
        "import sys, kiln.client; "
        "bad = [m for m in sys.modules if m == 'jax' or m.startswith(('kiln.server', 'flax'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost / 127.0.0.1."""
    root = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return root / "cert.pem", root / "key.pem"


def test_tls(certificate, fake_plugin):
    cert, key = certificate
    settings = KilnSettings(tls_cert=cert, tls_key=key)
    with running_server(settings, plugins=[("fake", fake_plugin)], entry_points=False) as handle:
        with Client(handle.address, root_certificates=cert.read_bytes(), timeout=10) as client:
            out = client.predict("scale", {"x": np.ones((1, 3), np.float32)})
            assert out["total"].tolist() == [3.0]
        with Client(handle.address, timeout=5) as plaintext, pytest.raises(KilnError) as info:
            plaintext.list_models()  # a plaintext client cannot talk to a TLS server
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
        assert info.value.reason == ""  # transport failures carry no ErrorInfo


def test_errors_are_typed_and_printable(fake_server):
    with Client(fake_server.address, timeout=10) as client:
        with pytest.raises(NotFoundError) as info:
            client.get_model("missing")
        assert str(info.value).startswith("NOT_FOUND (MODEL_NOT_FOUND): no model named 'missing'")
        assert info.value.metadata == {"model": "missing"}


def test_unreachable_server_is_unavailable():
    with Client("127.0.0.1:1", timeout=2) as client, pytest.raises(UnavailableError):
        client.list_models()


class _ReversingServicer(inference_service_pb2_grpc.InferenceServiceServicer):
    """Answers a whole StreamPredict in reverse order and never answers its last request."""

    def StreamPredict(self, request_iterator, context):
        requests = list(request_iterator)
        for request in reversed(requests[:-1]):
            yield inference_service_pb2.StreamPredictResponse(
                request_id=request.request_id, response=inference_service_pb2.PredictResponse()
            )


def test_stream_predict_reorders_answers_and_reports_a_missing_one():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    inference_service_pb2_grpc.add_InferenceServiceServicer_to_server(_ReversingServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=10) as client:
            batches = [{"x": np.zeros((1, 1), np.float32)}] * 4
            results = client.stream_predict("any", batches)
            assert [next(results).request_id for _ in range(3)] == ["0", "1", "2"]
            with pytest.raises(InternalError, match=r"request '3' \(1 of 4 unanswered\)"):
                next(results)
    finally:
        server.stop(None)
