"""Generate (server streaming) and StreamPredict (bidi) against a real server on port 0."""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest

from kiln.client import (
    AsyncClient,
    Client,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
)


@pytest.fixture
def client(fake_server):
    with Client(fake_server.address, timeout=10) as c:
        yield c


def expected_noise(seed: int, count: int) -> np.ndarray:
    i = np.arange(count, dtype=np.float32)
    return np.stack([np.full_like(i, seed), i, i * i], axis=1)


def test_generate_streams_chunks_with_progress(client):
    chunks = list(client.generate("noise", 10, seed=3, chunk_size=4))
    assert [c.index for c in chunks] == [0, 1, 2]
    assert [c.done for c in chunks] == [4, 8, 10] and {c.total for c in chunks} == {10}
    np.testing.assert_array_equal(
        np.concatenate([c.samples for c in chunks]), expected_noise(3, 10)
    )


def test_same_seed_same_samples_whatever_the_chunk_size(client):
    whole = [
        np.concatenate([c.samples for c in client.generate("noise", 12, seed=9, chunk_size=k)])
        for k in (1, 5, 12)
    ]
    for other in whole[1:]:
        assert other.tobytes() == whole[0].tobytes()  # bit-for-bit


def test_png_encoding_is_returned_when_asked(client):
    (chunk,) = client.generate("noise", 2, seed=1, chunk_size=2, encodings=["png"])
    assert chunk.samples is None
    assert len(chunk.png) == 2 and all(p.startswith(b"\x89PNG") for p in chunk.png)


def test_cancel_stops_the_work_within_one_chunk(
    client, fake_server, fake_plugin, noise_model_class
):
    model = fake_plugin.model(noise_model_class)
    before = model.chunks_computed
    stream = client.generate("noise", 1000, seed=0, chunk_size=1)
    next(stream)
    stream.cancel()
    time.sleep(0.5)  # ten chunks' worth of time
    computed = model.chunks_computed - before
    assert 1 <= computed <= 3  # the chunk received, at most one in flight, one prefetch at most


def test_deadline_stops_generation(client, fake_plugin, noise_model_class):
    model = fake_plugin.model(noise_model_class)
    before = model.chunks_computed
    with pytest.raises(DeadlineExceededError):
        list(client.generate("noise", 1000, seed=0, chunk_size=1, timeout=0.3))
    time.sleep(0.3)
    assert model.chunks_computed - before <= 0.3 / model.chunk_seconds + 2


def test_generate_limits_and_capability(client):
    with pytest.raises(InvalidArgumentError) as info:
        list(client.generate("noise", 1001))
    assert (info.value.reason, info.value.field) == ("COUNT_OUT_OF_RANGE", "count")
    with pytest.raises(InvalidArgumentError) as info:
        list(client.generate("noise", 10, chunk_size=51))
    assert info.value.reason == "CHUNK_SIZE_OUT_OF_RANGE"
    with pytest.raises(FailedPreconditionError) as info:
        list(client.generate("scale", 10))
    assert info.value.reason == "GENERATION_UNSUPPORTED"


def test_stream_predict_answers_each_request_in_order_and_survives_bad_ones(client):
    batches = [{"x": np.full((1, 3), i, np.float32)} for i in range(20)]
    batches[7] = {"x": np.zeros((1, 4), np.float32)}  # wrong shape
    results = list(client.stream_predict("scale", batches))
    assert [r.request_id for r in results] == [str(i) for i in range(20)]
    assert results[7].outputs is None
    assert results[7].error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert results[7].error.reason == "INPUT_SHAPE_MISMATCH"
    assert results[7].error.field == "inputs[x].shape"
    for i, r in enumerate(results):
        if i != 7:
            np.testing.assert_array_equal(r.outputs["doubled"], batches[i]["x"] * 2)


def test_stream_predict_uses_the_batcher(client, fake_plugin, scale_model_class):
    model = fake_plugin.model(scale_model_class)
    model.batch_sizes.clear()
    list(client.stream_predict("scale", [{"x": np.ones((1, 3), np.float32)}] * 40))
    assert sum(model.batch_sizes) >= 40
    assert max(model.batch_sizes) > 1  # many requests in flight were batched together


async def test_async_client_generate_and_stream(fake_server):
    async with AsyncClient(fake_server.address, timeout=10) as client:
        chunks = [c async for c in client.generate("noise", 6, seed=2, chunk_size=4)]
        assert sum(len(c.samples) for c in chunks) == 6

        async def batches():
            for i in range(5):
                await asyncio.sleep(0)
                yield {"x": np.full((2, 3), i, np.float32)}

        results = [r async for r in client.stream_predict("scale", batches())]
        assert [float(r.outputs["total"][0]) for r in results] == [0.0, 3.0, 6.0, 9.0, 12.0]
        models = await client.list_models()
        assert [m.name for m in models] == ["broken", "noise", "scale"]
        assert (await client.get_model("noise")).capabilities == ("predict", "generate")
