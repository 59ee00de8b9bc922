"""The `kiln` command as an operator runs it: serve, drain on SIGTERM, models."""

from __future__ import annotations

import os
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


def test_per_model_batching_override_merges_with_the_global_settings():
    env = {
        **os.environ,
        "KILN_BATCHING__MAX_QUEUE_SIZE": "77",
        "KILN_BATCHING__BUSY_QUEUE_DELAY_US": "1234",
        "KILN_MODEL_BATCHING__digits__max_queue_delay_us": "500",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", "models", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = {
        name: batching
        for name, batching in re.findall(
            r"^(\S+) .*\n(?:    .*\n)*?    (batching: .*)$", result.stdout, re.M
        )
    }
    # digits: its own delay, the global queue size and busy delay (not the defaults).
    assert "max queue delay 500 us" in lines["digits"]
    assert "busy queue delay 1234 us" in lines["digits"]
    assert "max queue 77," in lines["digits"]
    # digits-gan has no override: the global settings as they are.
    assert "max queue delay 0 us" in lines["digits-gan"]
    assert "max queue 77," in lines["digits-gan"]
