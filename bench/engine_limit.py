"""Kiln without the network: its servicers called in-process, closed loop.

Loads ``digits`` the way ``kiln serve`` does (discovery, registry, batcher, worker thread,
synchronous JAX dispatch, the same event loop) and calls the kiln.v1 ``Predict`` and OIP
``ModelInfer`` servicer methods directly with a stand-in context: each call parses the
request bytes and serializes the response, so everything Kiln does per request except
gRPC's transport is in it. Set beside the empty-handler server (gRPC without Kiln) and the
in-process model (the model without Kiln), it shows where a request's CPU goes. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import sys
import time

import numpy as np

from kiln.oip.v2 import grpc_service_pb2 as oip_pb2
from kiln.server import jax_runtime
from kiln.server.discovery import discover
from kiln.server.engine import Engine
from kiln.server.grpc.kiln_v1 import InferenceServicer
from kiln.server.grpc.oip import OpenInferenceServicer
from kiln.server.grpc.server import new_event_loop
from kiln.server.registry import ModelRegistry
from kiln.server.settings import KilnSettings
from kiln.v1 import inference_service_pb2 as kiln_pb2

from payloads import WORKLOADS, predict_request


class _Context:
    """The little of ``grpc.aio.ServicerContext`` a successful unary call touches."""

    def time_remaining(self) -> None:
        return None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _closed_loop(call, concurrency: int, warmup: float, duration: float) -> dict:
    latencies: list[int] = []
    recording = False
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            started = time.perf_counter_ns()
            await call()
            if recording:
                latencies.append(time.perf_counter_ns() - started)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    recording = True
    began, cpu = time.perf_counter(), _cpu()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    wall, cpu = time.perf_counter() - began, _cpu() - cpu
    recording = False
    stop.set()
    await asyncio.gather(*tasks)
    lat = np.asarray(latencies, dtype=np.float64) / 1e6
    return {
        "concurrency": concurrency,
        "rps": lat.size / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "cpu_cores": cpu / wall,
        "cpu_us_per_call": cpu / max(lat.size, 1) * 1e6,
    }


async def measure(args: argparse.Namespace, settings: KilnSettings) -> list[dict]:
    """Closed-loop runs per protocol and concurrency against in-process servicers."""
    registry = ModelRegistry(discover(block=settings.block_plugins), settings)
    await registry.load_all()
    engine = Engine(registry, settings)
    kiln = InferenceServicer(engine)
    oip = OpenInferenceServicer(engine, settings, is_ready=lambda: True)
    context = _Context()
    workload = WORKLOADS["digits-b1"]
    raw = {p: predict_request(p, workload) for p in ("kiln.v1", "oip")}

    async def kiln_call() -> None:
        request = kiln_pb2.PredictRequest.FromString(raw["kiln.v1"])
        (await kiln.Predict(request, context)).SerializeToString()

    async def oip_call() -> None:
        request = oip_pb2.ModelInferRequest.FromString(raw["oip"])
        (await oip.ModelInfer(request, context)).SerializeToString()

    rows = []
    try:
        for protocol, call in (("kiln.v1", kiln_call), ("oip", oip_call)):
            for concurrency in args.concurrency:
                row = await _closed_loop(call, concurrency, args.warmup, args.duration)
                rows.append({"protocol": protocol, **row})
    finally:
        await registry.close()
    return rows


def main() -> int:
    """Entry point; prints the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=2.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = KilnSettings(port=0, block_plugins=["gan"])
    jax_runtime.dispatch_synchronously()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings)) as runner:
        json.dump(runner.run(measure(args, settings)), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
