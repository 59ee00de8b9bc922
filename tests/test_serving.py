"""Server behaviour: health follows readiness, reflection, batching, queue limits, deadlines."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kiln.client import Client, ResourceExhaustedError
from kiln.server.batching import DynamicBatcher, bucket_for
from kiln.server.discovery import discover
from kiln.server.errors import DeadlineExpired, Overloaded
from kiln.server.grpc.server import start_server
from kiln.server.plugin import ModelSpec, TensorSpec
from kiln.server.settings import BatchingSettings, KilnSettings
from kiln.server.stats import InferenceStats
from kiln.server.worker import ModelWorker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_status(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_health_is_not_serving_until_every_model_is_loaded(fake_plugin):
    fake_plugin.load_gate.clear()  # the "scale" model's factory blocks until released
    port = free_port()
    settings = KilnSettings(host="127.0.0.1", port=port)
    catalog = discover(block=["classifier", "gan"], extra_plugins=[("fake", fake_plugin)])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started = asyncio.run_coroutine_threadsafe(start_server(settings, catalog), loop)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status = health_status(address)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert (
            health_status(address, "kiln.v1.InferenceService")
            == health_pb2.HealthCheckResponse.NOT_SERVING
        )
        fake_plugin.load_gate.set()
        server = started.result(timeout=30)
        assert health_status(address) == health_pb2.HealthCheckResponse.SERVING
        asyncio.run_coroutine_threadsafe(server.stop(grace=0.5), loop).result(timeout=10)
    finally:
        fake_plugin.load_gate.set()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def test_reflection_lists_the_services(fake_server):
    with grpc.insecure_channel(fake_server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in response.list_services_response.service}
    assert {"kiln.v1.InferenceService", "kiln.v1.ModelService", "grpc.health.v1.Health"} <= names


def test_concurrent_requests_are_batched_padded_and_sliced(
    fake_server, fake_plugin, scale_model_class
):
    model = fake_plugin.model(scale_model_class)
    model.batch_sizes.clear()
    with Client(fake_server.address) as client, concurrent.futures.ThreadPoolExecutor(16) as pool:
        rows = [np.full((1 + i % 2, 3), i, np.float32) for i in range(32)]
        results = list(pool.map(lambda r: client.predict("scale", {"x": r}), rows))
    for row, out in zip(rows, results, strict=True):
        np.testing.assert_array_equal(out["doubled"], row * 2)
    assert set(model.batch_sizes) <= {1, 4, 8}  # always a compiled bucket
    assert len(model.batch_sizes) < 32  # some requests shared a model call


def test_bucket_choice():
    assert [bucket_for((1, 4, 8), n) for n in (1, 2, 4, 5, 8)] == [1, 4, 4, 8, 8]


SPEC = ModelSpec(
    name="slow",
    description="",
    inputs=(TensorSpec("x", "float32", (-1, 1)),),
    outputs=(TensorSpec("y", "float32", (-1, 1)),),
    factory=lambda ctx: None,
    batch_buckets=(1, 2),
    max_batch_size=2,
)


class SlowModel:
    def __init__(self) -> None:
        self.calls = 0

    def predict(self, inputs):
        self.calls += 1
        time.sleep(0.2)
        return {"y": inputs["x"] + 1}


def batcher(model, worker, **overrides) -> DynamicBatcher:
    options = dict(buckets=(1, 2), max_batch_size=2, max_queue_delay_s=0.0, max_queue_size=2)
    options.update(overrides)
    return DynamicBatcher(model, SPEC, worker=worker, stats=InferenceStats(), **options)


async def test_full_queue_is_refused_with_a_retry_hint():
    model = SlowModel()
    with ModelWorker("test") as worker:
        b = batcher(model, worker, max_queue_size=1)
        b.start()
        one = np.ones((2, 1), np.float32)
        first = asyncio.create_task(b.submit({"x": one}, 2))
        await asyncio.sleep(0.05)  # first is now running; the queue is empty
        second = asyncio.create_task(b.submit({"x": one}, 2))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as info:
            await b.submit({"x": one}, 2)
        assert info.value.reason == "QUEUE_FULL" and "retry_after_ms" in info.value.metadata
        await asyncio.gather(first, second)
        await b.close()


async def test_expired_requests_are_dropped_before_compute():
    model = SlowModel()
    with ModelWorker("test") as worker:
        b = batcher(model, worker)
        b.start()
        one = np.ones((2, 1), np.float32)
        busy = asyncio.create_task(b.submit({"x": one}, 2))
        await asyncio.sleep(0.05)
        with pytest.raises(DeadlineExpired):
            await b.submit({"x": one}, 2, deadline=time.monotonic() + 0.05)
        await busy
        await b.close()
        assert model.calls == 1  # the expired request never reached the model


def test_queue_full_reaches_the_client_as_resource_exhausted(fake_plugin):
    from kiln.server.testing import running_server

    settings = KilnSettings(
        model_batching={"noise": BatchingSettings(max_queue_size=1, max_queue_delay_us=0)}
    )
    with running_server(settings, plugins=[("fake", fake_plugin)], entry_points=False) as handle:
        with Client(handle.address) as client, concurrent.futures.ThreadPoolExecutor(8) as pool:
            gen = client.generate("noise", 1000, chunk_size=1)  # keeps the worker thread busy
            next(gen)
            x = np.ones((1, 3), np.float32)
            futures = [pool.submit(client.predict, "noise", {"x": x}) for _ in range(8)]
            errors = [f.exception() for f in futures]
            gen.cancel()
        refused = [e for e in errors if isinstance(e, ResourceExhaustedError)]
        assert refused and all(e.reason == "QUEUE_FULL" for e in refused)
        assert any(e is None for e in errors)  # the queued one was served


class RecordingModel:
    """Answers at once; records each batch's size, the calling thread and any overlap."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.active = 0
        self.overlapped = False

    def predict(self, inputs):
        self.active += 1
        self.overlapped |= self.active > 1
        self.threads.add(threading.current_thread().name)
        self.sizes.append(len(inputs["x"]))
        time.sleep(self.seconds)
        self.active -= 1
        return {"y": inputs["x"] + 1}


async def test_a_lone_client_never_waits_for_company():
    model = RecordingModel()
    with ModelWorker("test") as worker:
        b = batcher(model, worker, busy_queue_delay_s=0.5, max_queue_size=8)
        b.start()
        one = np.ones((1, 1), np.float32)
        started = time.perf_counter()
        for _ in range(5):
            await b.submit({"x": one}, 1)
        elapsed = time.perf_counter() - started
        await b.close()
    assert model.sizes == [1] * 5
    assert elapsed < 0.4  # one 0.5 s wait would exceed it


async def test_a_request_queued_while_the_worker_goes_to_sleep_wakes_it():
    # Requests are queued without the worker's lock. One that arrives after the worker found
    # the queue empty, but before it sleeps, must still wake it: nothing else would (no
    # delay is set), and the request would wait forever.
    model = RecordingModel()
    looked = threading.Event()
    with ModelWorker("test") as worker:
        b = batcher(model, worker, max_queue_size=8)
        take = b.take

        def take_then_dawdle():
            work, wait = take()
            # Right after a batch (the worker's first look once it is free again):
            if work is None and model.sizes and not looked.is_set():
                looked.set()  # the queue looked empty ...
                time.sleep(0.3)  # ... and the request arrives before the worker sleeps
            return work, wait

        b.take = take_then_dawdle
        b.start()
        one = np.ones((1, 1), np.float32)
        await b.submit({"x": one}, 1)
        await asyncio.get_running_loop().run_in_executor(None, looked.wait, 5)
        answer = await asyncio.wait_for(b.submit({"x": 2 * one}, 1), timeout=5)
        await b.close()
    assert answer["y"].tolist() == [[3.0]]


async def test_under_concurrent_load_a_batch_waits_for_company():
    model = RecordingModel()
    with ModelWorker("test") as worker:
        b = batcher(model, worker, busy_queue_delay_s=0.5, max_queue_size=8)
        b.start()
        one = np.ones((1, 1), np.float32)
        await asyncio.gather(b.submit({"x": one}, 1), b.submit({"x": one}, 1))
        assert model.sizes == [2]  # both were queued before the worker looked
        # The last batch held two requests: the next one waits for a second.
        first = asyncio.create_task(b.submit({"x": one}, 1))
        await asyncio.sleep(0.1)
        assert model.sizes == [2]
        # The second arrival completes the batch and wakes the worker at once (the rest of
        # the 0.5 s wait would be 0.4 s).
        started = time.perf_counter()
        await asyncio.gather(first, b.submit({"x": one}, 1))
        waited = time.perf_counter() - started
        await b.close()
    assert model.sizes == [2, 2]
    assert waited < 0.3


async def test_jobs_and_batches_share_one_thread_without_overlap():
    model = RecordingModel(seconds=0.002)
    loop = asyncio.get_running_loop()
    with ModelWorker("kiln-test-worker") as worker:
        b = batcher(model, worker, max_queue_size=64)
        b.start()
        one = np.ones((1, 1), np.float32)

        def job() -> str:
            return model.predict({"x": one}) and threading.current_thread().name

        jobs = [loop.run_in_executor(worker, job) for _ in range(10)]
        finished = [b.submit({"x": one}, 1, finish=lambda out: threading.current_thread().name)]
        finished += [b.submit({"x": one}, 1) for _ in range(20)]
        names = await asyncio.gather(*jobs, finished[0])
        results = await asyncio.gather(*finished[1:])
        await b.close()
    assert not model.overlapped
    assert model.threads == {"kiln-test-worker"}
    assert set(names) == {"kiln-test-worker"}  # jobs and `finish` ran on the worker too
    assert all(np.array_equal(r["y"], one + 1) for r in results)


def test_the_server_runs_on_uvloop_with_synchronous_jax_dispatch(fake_plugin):
    import jax
    import uvloop

    from kiln.server.grpc.server import new_event_loop
    from kiln.server.testing import running_server

    with running_server(plugins=[("fake", fake_plugin)], entry_points=False) as handle:
        assert isinstance(handle.loop, uvloop.Loop)
    assert jax.config.read("jax_cpu_enable_async_dispatch") is False
    loop = new_event_loop(KilnSettings(event_loop="asyncio"))
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
