"""train -> evaluate -> versioned artifact -> serve, through the real `kiln` command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from kiln.client import Client
from kiln.server.settings import KilnSettings
from kiln.server.testing import running_server

pytestmark = pytest.mark.slow


def kiln(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    repo = tmp_path_factory.mktemp("repo")
    result = kiln("train", "digits", "--repository", str(repo), "--set", "epochs=2")
    assert "epoch 2/2" in result.stdout  # progress is shown
    return repo


def test_train_writes_a_versioned_artifact_with_a_manifest(repository):
    version = repository / "digits" / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["model"] == "digits" and manifest["version"] == "1"
    assert manifest["plugin"] == "kiln-classifier"
    assert manifest["config"]["epochs"] == 2
    assert len(manifest["data_fingerprint"]) == 64
    assert manifest["metrics"]["accuracy"] > 0.8
    assert manifest["signature"]["inputs"][0]["shape"] == [-1, 28, 28, 1]
    assert (version / "params.msgpack").stat().st_size > 0


def test_evaluate_reports_and_records_metrics(repository, tmp_path):
    result = kiln(
        "evaluate", "digits", "--repository", str(repository), "--report-dir", str(tmp_path)
    )
    assert "accuracy" in result.stdout.lower() and "confusion" in result.stdout.lower()
    assert (tmp_path / "confusion-matrix.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((repository / "digits" / "1" / "manifest.json").read_text())
    assert manifest["evaluation"]["accuracy"] > 0.8


def test_serve_from_the_repository_then_pick_up_a_new_version(repository):
    settings = KilnSettings(model_repository=repository, block_plugins=["gan"])
    with running_server(settings) as handle, Client(handle.address, timeout=60) as client:
        assert [v.version for v in client.get_model("digits").versions] == ["1"]
        image = np.zeros((1, 28, 28, 1), np.float32)
        assert client.predict("digits", {"image": image})["label"].shape == (1,)
        kiln("train", "digits", "--repository", str(repository), "--set", "epochs=1")
        handle.call(handle.server.engine.registry.load("digits"))
        versions = client.get_model("digits").versions
        assert [(v.version, v.state) for v in versions] == [("2", "READY"), ("1", "READY")]
        assert client.predict("digits", {"image": image}, version="1")["label"].shape == (1,)
