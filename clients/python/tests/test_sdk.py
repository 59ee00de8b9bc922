"""The Python SDK against a real server: TLS, errors, independence from the server package."""

from __future__ import annotations

import subprocess
import sys

import grpc
import numpy as np
import pytest

from kiln.client import Client, KilnError, NotFoundError, UnavailableError
from kiln.server.settings import KilnSettings
from kiln.server.testing import running_server


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
