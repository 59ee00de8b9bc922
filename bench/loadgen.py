"""Closed-loop gRPC load generator; runs in its own process and prints one JSON object.

``concurrency`` tasks each keep exactly one call in flight on a shared ``grpc.aio``
channel: send, wait for the answer, send again. Requests are serialized once up front and
responses are left as bytes (the first answer of each task is parsed and checked), so the
client spends as little CPU as a Python client can and that CPU is measured and reported.

The run is one warm-up window followed by ``repeats`` measured windows, back to back,
with the calls flowing through all of them; a call counts in the window it completes in.
At every window boundary the client's CPU time (getrusage) and the server processes' CPU
time (psutil, the given pids and their children) are sampled.

Bounded: every window ends on time, each call has a deadline, and no window records more
than ``--max-calls`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass, field

import grpc
import numpy as np
import psutil

from kiln.v1 import inference_service_pb2 as kiln_pb2

from payloads import (
    GENERATE_METHOD,
    PREDICT_METHODS,
    WORKLOADS,
    check_response,
    generate_request,
    predict_request,
)

#: Deadline of a single call (s); a call past it counts as an error.
CALL_TIMEOUT_S = 30.0
#: Largest message either way (GAN generation answers ~800 kB).
MAX_MESSAGE = 64 * 1024 * 1024


@dataclass
class Window:
    """What completed during one window."""

    latencies_ns: list[int] = field(default_factory=list)
    first_chunk_ns: list[int] = field(default_factory=list)
    samples: int = 0
    errors: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)


class Recorder:
    """The window calls currently complete into, swapped at each boundary."""

    def __init__(self, max_calls: int) -> None:
        self.window = Window()
        self.max_calls = max_calls
        self.stop = asyncio.Event()

    def ok(self, latency_ns: int, samples: int, first_chunk_ns: int | None = None) -> None:
        window = self.window
        window.latencies_ns.append(latency_ns)
        window.samples += samples
        if first_chunk_ns is not None:
            window.first_chunk_ns.append(first_chunk_ns)
        if len(window.latencies_ns) >= self.max_calls:
            self.stop.set()

    def error(self, err: grpc.aio.AioRpcError) -> None:
        self.window.errors += 1
        name = err.code().name
        self.window.error_codes[name] = self.window.error_codes.get(name, 0) + 1


def _cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _server_processes(pids: list[int]) -> list[psutil.Process]:
    processes = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
        except psutil.Error:
            continue
        processes.append(root)
        processes.extend(root.children(recursive=True))
    return processes


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _unary_task(call, request: bytes, recorder: Recorder, protocol, workload) -> None:
    checked = False
    while not recorder.stop.is_set():
        started = time.perf_counter_ns()
        try:
            answer = await call(request, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            recorder.error(err)
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                await asyncio.sleep(0.01)
            continue
        recorder.ok(time.perf_counter_ns() - started, workload.samples)
        if not checked:
            check_response(protocol, workload, answer)
            checked = True


async def _generate_task(call, request: bytes, recorder: Recorder, count: int) -> None:
    while not recorder.stop.is_set():
        started = time.perf_counter_ns()
        first = None
        done = 0
        try:
            async for chunk in call(request, timeout=CALL_TIMEOUT_S):
                if first is None:
                    first = time.perf_counter_ns() - started
                done = chunk.samples_done
        except grpc.aio.AioRpcError as err:
            recorder.error(err)
            continue
        if done != count:
            raise RuntimeError(f"Generate streamed {done} samples, wanted {count}")
        recorder.ok(time.perf_counter_ns() - started, done, first)


def _summary(window: Window, wall: float, client_cpu: float, server_cpu: float) -> dict:
    lat = np.asarray(window.latencies_ns, dtype=np.float64) / 1e6
    ttfc = np.asarray(window.first_chunk_ns, dtype=np.float64) / 1e6

    def pct(values: np.ndarray, q: float) -> float | None:
        return float(np.percentile(values, q)) if values.size else None

    return {
        "wall_s": wall,
        "calls": int(lat.size),
        "errors": window.errors,
        "error_codes": window.error_codes,
        "rps": lat.size / wall,
        "samples_per_s": window.samples / wall,
        "p50_ms": pct(lat, 50),
        "p90_ms": pct(lat, 90),
        "p99_ms": pct(lat, 99),
        "mean_ms": float(lat.mean()) if lat.size else None,
        "first_chunk_p50_ms": pct(ttfc, 50),
        "first_chunk_p99_ms": pct(ttfc, 99),
        # CPU seconds per wall second: 1.0 is one core fully busy.
        "client_cpu_cores": client_cpu / wall,
        "server_cpu_cores": server_cpu / wall,
    }


async def run(args: argparse.Namespace) -> dict:
    """Warm up, then measure `args.repeats` windows; return the per-window summaries."""
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    channels = [
        grpc.aio.insecure_channel(args.address, options=options) for _ in range(args.channels)
    ]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 10)
    recorder = Recorder(args.max_calls)
    if args.kind == "generate":
        request = generate_request(args.count, args.chunk_size)
        calls = [
            c.unary_stream(
                GENERATE_METHOD, response_deserializer=kiln_pb2.GenerateResponse.FromString
            )
            for c in channels
        ]
        request_bytes, samples_per_call = len(request), args.count
        started = time.perf_counter()
        async for _ in calls[0](request, timeout=CALL_TIMEOUT_S):
            pass
        first_call = time.perf_counter() - started
        tasks = [
            asyncio.create_task(
                _generate_task(calls[i % len(calls)], request, recorder, args.count)
            )
            for i in range(args.concurrency)
        ]
    else:
        workload = WORKLOADS[args.workload]
        request = predict_request(args.protocol, workload)
        method = PREDICT_METHODS[args.protocol]
        calls = [c.unary_unary(method) for c in channels]  # bytes in, bytes out
        started = time.perf_counter()
        probe = await calls[0](request, timeout=CALL_TIMEOUT_S)
        first_call = time.perf_counter() - started
        check_response(args.protocol, workload, probe)
        request_bytes, samples_per_call = len(request), workload.samples
        tasks = [
            asyncio.create_task(
                _unary_task(calls[i % len(calls)], request, recorder, args.protocol, workload)
            )
            for i in range(args.concurrency)
        ]
    servers = _server_processes(args.server_pids)
    windows = []
    boundary = (time.perf_counter(), _client_cpu(), _cpu_of(servers))
    for index in range(args.repeats + 1):
        length = args.warmup if index == 0 else args.duration
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.stop.wait(), length)
        window, recorder.window = recorder.window, Window()
        now = (time.perf_counter(), _client_cpu(), _cpu_of(servers))
        if index > 0:
            windows.append(
                _summary(window, now[0] - boundary[0], now[1] - boundary[1], now[2] - boundary[2])
            )
        boundary = now
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()
    recorder.stop.set()
    _, pending = await asyncio.wait(tasks, timeout=CALL_TIMEOUT_S + 5)
    for task in pending:
        task.cancel()
    for channel in channels:
        await channel.close()
    result = {
        "address": args.address,
        "kind": args.kind,
        "protocol": "kiln.v1" if args.kind == "generate" else args.protocol,
        "workload": f"gan-stream{args.count}-c{args.chunk_size}"
        if args.kind == "generate"
        else args.workload,
        "concurrency": args.concurrency,
        "channels": args.channels,
        "request_bytes": request_bytes,
        "samples_per_call": samples_per_call,
        # The untimed probe before the load: shows lazy work (e.g. a compile) on first use.
        "first_call_ms": first_call * 1e3,
        "windows": windows,
    }
    if args.kind != "generate":
        result["response_bytes"] = len(probe)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True, help="host:port (loopback)")
    p.add_argument("--kind", choices=("unary", "generate"), default="unary")
    p.add_argument("--protocol", choices=sorted(PREDICT_METHODS), default="kiln.v1")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="digits-b1")
    p.add_argument("--count", type=int, default=256, help="samples per Generate")
    p.add_argument("--chunk-size", type=int, default=64, help="samples per Generate chunk")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--warmup", type=float, default=1.5, help="seconds, discarded")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measured window")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-calls", type=int, default=500_000, help="per window")
    p.add_argument("--server-pids", type=int, nargs="*", default=[])
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the load and print the JSON result on stdout."""
    args = parse_args(argv)
    json.dump(asyncio.run(run(args)), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
