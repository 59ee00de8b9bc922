"""The OIP v2 endpoint against the real `tritonclient[grpc]` 2.73.0, in its own venv.

tritonclient cannot share a process with Kiln's `inference` stubs (descriptor-pool clash)
and needs protobuf < 7, so tests/oip/tritonclient_suite.py runs in .venv-oip (made by
`scripts/oip-venv`) against a real server started here, and each of its checks is
reported as one test. Without .venv-oip these tests skip, unless KILN_REQUIRE_OIP_VENV=1
(CI) makes that a failure. KILN_OIP_PYTHON overrides the interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from kiln.client import Client
from kiln.server.testing import running_server

ROOT = Path(__file__).parents[1]
SUITE = ROOT / "tests" / "oip" / "tritonclient_suite.py"

#: Every check the suite must run (a check that silently disappeared fails here).
CHECKS = [
    "health",
    "server_metadata",
    "model_metadata",
    "model_config",
    "repository_index",
    "infer_fp32",
    "infer_requested_outputs",
    "infer_int64_fp16_bool_bf16",
    "infer_bytes",
    "infer_errors",
    "infer_parameters",
    "generate_with_count_and_seed",
    "statistics",
    "unimplemented_extensions",
    "async_infer",
    "stream_infer",
    "asyncio_client",
    "load_and_unload",
]


def oip_python() -> Path:
    python = Path(os.environ.get("KILN_OIP_PYTHON", ROOT / ".venv-oip" / "bin" / "python"))
    if not python.exists():
        message = f"{python} is missing; run scripts/oip-venv to create .venv-oip"
        if os.environ.get("KILN_REQUIRE_OIP_VENV") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python


def run_suite(*args: str, timeout: float = 240) -> None:
    done = subprocess.run(
        [str(oip_python()), str(SUITE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"suite crashed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def results(oip_server, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("oip") / "results.json"
    run_suite("fake", "--address", oip_server.address, "--out", str(out))
    return json.loads(out.read_text())


def test_the_suite_ran_exactly_the_expected_checks(results):
    assert list(results) == CHECKS


@pytest.mark.parametrize("name", CHECKS)
def test_tritonclient(results, name):
    outcome = results.get(name)
    assert outcome is not None, f"check {name} did not run"
    assert outcome["ok"], outcome["error"]


# --- the built-in models, when installed ---------------------------------------------


@dataclass
class BuiltinRun:
    """What the suite saw of the built-in models, and what the native API says."""

    checks: dict
    arrays: dict[str, np.ndarray]
    native_digits: dict[str, np.ndarray]
    labels: np.ndarray
    native_gan: tuple[np.ndarray, np.ndarray] | None  # generate(4, seed=7), predict(z=0)


@pytest.fixture(scope="module")
def builtin(tmp_path_factory) -> BuiltinRun:
    pytest.importorskip("kiln_classifier", reason="the digits classifier plugin is not installed")
    from kiln_classifier.data import load_split

    split = load_split()
    images = split.x_test[:32].astype(np.float32)
    folder = tmp_path_factory.mktemp("oip-builtin")
    np.save(folder / "images.npy", images)
    with running_server() as server:
        run_suite(
            "builtin",
            "--address",
            server.address,
            "--images",
            str(folder / "images.npy"),
            "--out",
            str(folder / "results.json"),
            "--arrays",
            str(folder / "arrays.npz"),
        )
        with Client(server.address, timeout=120) as client:
            native_digits = client.predict("digits", {"image": images})
            native_gan = None
            if any(m.name == "digits-gan" and m.ready for m in client.list_models()):
                chunks = [c.samples for c in client.generate("digits-gan", 4, seed=7)]
                z = np.zeros((2, 100), np.float32)
                native_gan = (
                    np.concatenate(chunks),
                    client.predict("digits-gan", {"z": z})["images"],
                )
    return BuiltinRun(
        checks=json.loads((folder / "results.json").read_text()),
        arrays=dict(np.load(folder / "arrays.npz")),
        native_digits=native_digits,
        labels=split.y_test[:32],
        native_gan=native_gan,
    )


def test_digits_through_tritonclient_matches_the_native_api(builtin):
    assert builtin.checks["digits"]["ok"], builtin.checks["digits"]["error"]
    labels = builtin.arrays["label"]
    np.testing.assert_array_equal(labels, builtin.native_digits["label"])
    np.testing.assert_allclose(
        builtin.arrays["probabilities"], builtin.native_digits["probabilities"], rtol=1e-6
    )
    assert np.mean(labels == builtin.labels) >= 0.9


def test_digits_gan_count_and_seed_match_native_generate(builtin):
    if builtin.native_gan is None:
        pytest.skip("digits-gan is not served (kiln-gan not installed, or not ready)")
    assert builtin.checks["digits_gan"]["ok"], builtin.checks["digits_gan"]["error"]
    samples, from_z = builtin.native_gan
    assert builtin.arrays["gan_images"].shape == (4, 28, 28, 1)
    np.testing.assert_allclose(builtin.arrays["gan_images"], samples, atol=1e-5)
    np.testing.assert_allclose(builtin.arrays["gan_from_z"], from_z, atol=1e-6)


def test_readme_tritonclient_snippet_runs_as_printed():
    import re
    import subprocess

    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Triton and KServe.*?```python\n(.*?)```", readme, re.S).group(1)
    python = oip_python()
    with running_server(block=["gan"]) as server:
        code = code.replace("127.0.0.1:50051", server.address)
        result = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[1]\n"
