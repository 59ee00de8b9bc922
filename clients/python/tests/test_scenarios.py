"""The shared SDK scenarios (scripts/sdk-scenarios), from Python, against $KILN_ADDRESS."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from kiln.client import CancelledError, Client, InvalidArgumentError, KilnError, NotFoundError

ADDRESS = os.environ.get("KILN_ADDRESS")
pytestmark = pytest.mark.skipif(
    not ADDRESS, reason="KILN_ADDRESS is not set (scripts/sdk-scenarios sets it)"
)
VECTORS = Path(os.environ.get("KILN_VECTORS", Path(__file__).parents[3] / "tests" / "vectors"))


@pytest.fixture(scope="module")
def vectors() -> dict:
    return json.loads((VECTORS / "vectors.json").read_text())


@pytest.fixture(scope="module")
def client():
    with Client(ADDRESS, timeout=60) as c:
        yield c


def test_lists_both_builtin_models(client):
    names = {m.name for m in client.list_models()}
    assert {"digits", "digits-gan"} <= names


def test_predicts_the_fixed_digit(client, vectors):
    digit = vectors["digit"]
    image = np.fromfile(VECTORS / digit["file"], dtype="<f4").reshape(digit["shape"])
    assert client.predict("digits", {"image": image})["label"].tolist() == [digit["label"]]


def test_stream_predict_answers_in_order_and_survives_a_bad_batch(client, vectors):
    digit = vectors["digit"]
    image = np.fromfile(VECTORS / digit["file"], dtype="<f4").reshape(digit["shape"])
    batches = [{"image": image}, {"image": np.zeros((1, 27, 28, 1), np.float32)}, {"image": image}]
    results = list(client.stream_predict("digits", batches))
    assert [r.request_id for r in results] == ["0", "1", "2"]
    assert results[0].outputs["label"].tolist() == [digit["label"]]
    assert results[2].outputs["label"].tolist() == [digit["label"]]
    assert results[1].outputs is None
    error = results[1].error
    assert (error.code, error.reason, error.field) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INPUT_SHAPE_MISMATCH",
        "inputs[image].shape",
    )


def test_generated_samples_digest(client, vectors):
    spec = vectors["generate"]
    chunks = client.generate(
        spec["model"], spec["count"], seed=spec["seed"], chunk_size=spec["chunk_size"]
    )
    digest = hashlib.sha256(b"".join(c.samples.tobytes() for c in chunks)).hexdigest()
    if spec.get("sha256_of_samples"):
        assert digest == spec["sha256_of_samples"]
    out = os.environ.get("KILN_SCENARIO_OUT")
    if out:
        Path(out, "python.sha256").write_text(digest)


def test_unknown_model_is_not_found(client):
    with pytest.raises(NotFoundError) as info:
        client.predict("no-such-model", {"image": np.zeros((1, 28, 28, 1), np.float32)})
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND")


def test_wrong_shape_names_the_field(client):
    with pytest.raises(InvalidArgumentError) as info:
        client.predict("digits", {"image": np.zeros((1, 27, 28, 1), np.float32)})
    assert (info.value.reason, info.value.field) == ("INPUT_SHAPE_MISMATCH", "inputs[image].shape")


def test_cancelling_generate_early(client):
    stream = client.generate("digits-gan", 4096, seed=1, chunk_size=16)
    first = next(stream)
    started = time.monotonic()
    stream.cancel()
    with pytest.raises(CancelledError):
        for _ in stream:
            pass
    assert first.samples.shape == (16, 28, 28, 1)
    assert time.monotonic() - started < 5


TLS_ADDRESS = os.environ.get("KILN_TLS_ADDRESS")


@pytest.mark.skipif(not TLS_ADDRESS, reason="KILN_TLS_ADDRESS is not set")
def test_mutual_tls(vectors):
    digit = vectors["digit"]
    image = np.fromfile(VECTORS / digit["file"], dtype="<f4").reshape(digit["shape"])
    ca = Path(os.environ["KILN_TLS_CA"]).read_bytes()
    with Client(
        TLS_ADDRESS,
        root_certificates=ca,
        certificate_chain=Path(os.environ["KILN_TLS_CLIENT_CERT"]).read_bytes(),
        private_key=Path(os.environ["KILN_TLS_CLIENT_KEY"]).read_bytes(),
        timeout=30,
    ) as client:
        assert client.predict("digits", {"image": image})["label"].tolist() == [digit["label"]]
    # Without a client certificate the server refuses the connection.
    with Client(TLS_ADDRESS, root_certificates=ca, timeout=10) as client:
        with pytest.raises(KilnError) as info:
            client.list_models()
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
