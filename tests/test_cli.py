"""The `kiln` command as an operator runs it: serve, drain on SIGTERM, models."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def test_serve_logs_models_and_address_and_drains_on_sigterm(tmp_path):
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kiln.server.cli",
                "serve",
                "--port",
                "0",
                "--block-plugin",
                "gan",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "kiln serving" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        address = re.search(r"kiln listening on (127\.0\.0\.1:\d+)", text).group(1)
        assert re.search(r"loaded model digits version 1 .*kiln-classifier", text)
        with grpc.insecure_channel(address) as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            assert check(health_pb2.HealthCheckRequest(), timeout=5).status == 1  # SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "draining in-flight calls" in log.read_text()
    finally:
        process.kill()


def test_models_verbose_shows_signatures_and_batching_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", "models", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "input  image: float32 [-1, 28, 28, 1]" in result.stdout
    assert "output label: int64 [-1]" in result.stdout
    assert re.search(r"batching: buckets \[1, 2, 4, 8, 16, 32, 64\], max batch 64", result.stdout)
