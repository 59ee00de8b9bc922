"""Starting, probing and stopping the servers under test, each in its own process group.

Every server binds to 127.0.0.1. Cold start is the wall time from just before the
process is spawned until it reports ready: gRPC health SERVING for Kiln (what Kubernetes
probes), OIP ServerReady plus ModelReady of every model for MLServer (it has no
``grpc.health.v1``). Memory is the resident set (RSS) and the proportional set (PSS,
shared pages split between processes) summed over the server's process tree.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kiln.oip.v2 import grpc_service_pb2 as oip_pb2
from kiln.oip.v2 import grpc_service_pb2_grpc as oip_grpc

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
#: Longest a server may take to become ready (JAX compiles every bucket at load).
READY_TIMEOUT_S = 300.0
#: Environment every server runs with: CPU JAX, no accidental accelerator probing.
SERVER_ENV = {"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    """A loopback port free right now (for servers that cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Memory:
    """Resident memory of a process tree, in MiB."""

    rss_mib: float
    pss_mib: float
    processes: int

    @classmethod
    def of(cls, pid: int) -> Memory:
        """Measure `pid` and all its descendants."""
        root = psutil.Process(pid)
        rss = pss = 0
        tree = [root, *root.children(recursive=True)]
        for process in tree:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        return cls(rss / 2**20, pss / 2**20, len(tree))


@dataclass
class RunningServer:
    """A server process the suite started.

    Attributes:
        name: Label used in the results (``kiln``, ``mlserver-batch-off``, ...).
        address: ``127.0.0.1:port`` of its gRPC endpoint.
        cold_start_s: Process spawn to ready.
        listening_s: Process spawn to the port being bound (Kiln and the empty server).
        models: Models it serves (ready), by name.
    """

    name: str
    process: subprocess.Popen
    address: str
    log_path: Path
    cold_start_s: float | None = None
    listening_s: float | None = None
    models: list[str] = field(default_factory=list)
    memory_ready: Memory | None = None

    @property
    def pid(self) -> int:
        """Process id of the server (its children are found through it)."""
        return self.process.pid

    def memory(self) -> Memory:
        """Current memory of the server's process tree."""
        return Memory.of(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _spawn(cmd: list[str], log_path: Path, cwd: Path | None = None, env: dict | None = None):
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, **SERVER_ENV, **(env or {})},
            start_new_session=True,  # its own process group, so stop() reaches its workers
        )
    finally:
        log.close()


def _wait_for_line(process, log_path: Path, pattern: str, deadline: float) -> re.Match:
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        match = regex.search(log_path.read_text(errors="replace"))
        if match:
            return match
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {log_path}")
        time.sleep(0.01)
    raise TimeoutError(f"no {pattern!r} in {log_path}")


def _poll(ready, process, log_path: Path, deadline: float, what: str) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {log_path}")
        try:
            if ready():
                return
        except grpc.RpcError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{what} not ready within {READY_TIMEOUT_S:.0f}s; see {log_path}")


def oip_model_ready(channel: grpc.Channel, model: str) -> bool:
    """OIP ModelReady (False on any error)."""
    stub = oip_grpc.GRPCInferenceServiceStub(channel)
    try:
        return stub.ModelReady(oip_pb2.ModelReadyRequest(name=model), timeout=2).ready
    except grpc.RpcError:
        return False


def kiln_batch_counts(address: str, model: str) -> tuple[int, int] | None:
    """Kiln's (inference_count, execution_count) of `model`, from OIP ModelStatistics."""
    with grpc.insecure_channel(address) as channel:
        stub = oip_grpc.GRPCInferenceServiceStub(channel)
        try:
            reply = stub.ModelStatistics(oip_pb2.ModelStatisticsRequest(name=model), timeout=5)
        except grpc.RpcError:
            return None
    return (
        sum(s.inference_count for s in reply.model_stats),
        sum(s.execution_count for s in reply.model_stats),
    )


def start_kiln(workdir: Path, env: dict | None = None) -> RunningServer:
    """``kiln serve`` on a free loopback port; returns once health says SERVING."""
    log_path = workdir / "kiln.log"
    kiln = Path(sys.executable).parent / "kiln"
    cmd = [str(kiln), "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "INFO"]
    started = time.perf_counter()
    deadline = time.monotonic() + READY_TIMEOUT_S
    process = _spawn(cmd, log_path, env=env)
    try:
        match = _wait_for_line(process, log_path, r"kiln listening on 127\.0\.0\.1:(\d+)", deadline)
        listening = time.perf_counter() - started
        address = f"127.0.0.1:{match.group(1)}"
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            serving = health_pb2.HealthCheckResponse.SERVING

            def ready() -> bool:
                request = health_pb2.HealthCheckRequest(service="")
                return stub.Check(request, timeout=2).status == serving

            _poll(ready, process, log_path, deadline, "kiln")
            cold = time.perf_counter() - started
            models = [m for m in ("digits", "digits-gan") if oip_model_ready(channel, m)]
    except BaseException:
        _kill(process)
        raise
    server = RunningServer("kiln", process, address, log_path, cold, listening, models)
    server.memory_ready = server.memory()
    return server


def start_empty(workdir: Path) -> RunningServer:
    """The empty-handler ceiling server (bench/empty_server.py)."""
    log_path = workdir / "empty.log"
    cmd = [sys.executable, str(BENCH / "empty_server.py"), "--port", "0"]
    started = time.perf_counter()
    process = _spawn(cmd, log_path)
    try:
        match = _wait_for_line(
            process, log_path, r"listening on 127\.0\.0\.1:(\d+)", time.monotonic() + 60
        )
    except BaseException:
        _kill(process)
        raise
    elapsed = time.perf_counter() - started
    server = RunningServer("empty", process, f"127.0.0.1:{match.group(1)}", log_path, elapsed)
    server.memory_ready = server.memory()
    return server


@dataclass(frozen=True)
class MLServerVariant:
    """One MLServer configuration.

    Attributes:
        name: Label in the results.
        max_batch_size: Adaptive batching's largest batch (1 = off).
        max_batch_time: Adaptive batching's wait for company, seconds.
        parallel_workers: MLServer's inference worker processes (0 = in the server process).
    """

    name: str
    max_batch_size: int
    max_batch_time: float
    parallel_workers: int


def mlserver_python() -> Path:
    """The Python of bench/.venv-mlserver."""
    return BENCH / ".venv-mlserver" / "bin" / "python"


def write_mlserver_repository(
    directory: Path, variant: MLServerVariant, port: int, artifacts: dict[str, Path]
) -> None:
    """settings.json and one model-settings.json per model (digits, digits-gan)."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "grpc_port": port,
        "http_port": free_port(),
        "metrics_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": variant.parallel_workers,
        "grpc_max_message_length": 64 * 1024 * 1024,
        "load_models_at_startup": True,
    }
    (directory / "settings.json").write_text(json.dumps(settings, indent=2))
    runtimes = {
        "digits": ("mlserver_runtime.DigitsRuntime", [1, 6, 16, 32, 64]),
        "digits-gan": ("mlserver_runtime.DigitsGanRuntime", [1, 16, 32, 64]),
    }
    for model, artifact in artifacts.items():
        implementation, buckets = runtimes[model]
        model_dir = directory / model
        model_dir.mkdir(exist_ok=True)
        model_settings = {
            "name": model,
            "implementation": implementation,
            "max_batch_size": variant.max_batch_size,
            "max_batch_time": variant.max_batch_time,
            "parameters": {"uri": str(artifact), "version": "1", "extra": {"buckets": buckets}},
        }
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))


def start_mlserver(
    workdir: Path, variant: MLServerVariant, artifacts: dict[str, Path]
) -> RunningServer:
    """``mlserver start`` on a loopback port; returns once every model is ready."""
    repository = workdir / variant.name
    port = free_port()
    write_mlserver_repository(repository, variant, port, artifacts)
    log_path = workdir / f"{variant.name}.log"
    cmd = [str(mlserver_python().parent / "mlserver"), "start", str(repository)]
    address = f"127.0.0.1:{port}"
    started = time.perf_counter()
    deadline = time.monotonic() + READY_TIMEOUT_S
    process = _spawn(cmd, log_path, cwd=repository, env={"PYTHONPATH": str(BENCH)})
    try:
        with grpc.insecure_channel(address) as channel:
            stub = oip_grpc.GRPCInferenceServiceStub(channel)

            def ready() -> bool:
                if not stub.ServerReady(oip_pb2.ServerReadyRequest(), timeout=2).ready:
                    return False
                return all(oip_model_ready(channel, m) for m in artifacts)

            _poll(ready, process, log_path, deadline, variant.name)
            cold = time.perf_counter() - started
    except BaseException:
        _kill(process)
        raise
    server = RunningServer(variant.name, process, address, log_path, cold, None, list(artifacts))
    server.memory_ready = server.memory()
    return server


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
