"""The built-in plugins through their entry points, served for real (shipped weights)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kiln.client import Client, InvalidArgumentError
from kiln.server.testing import running_server

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def server():
    with running_server() as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server):
    with Client(server.address, timeout=60) as c:
        yield c


def test_both_builtin_plugins_are_discovered_and_ready(client):
    models = {m.name: m for m in client.list_models()}
    assert models["digits"].plugin == "kiln-classifier"
    assert models["digits"].ready
    if "digits-gan" in models:
        assert models["digits-gan"].plugin == "kiln-gan"
        assert models["digits-gan"].capabilities == ("predict", "generate")


def test_digits_over_grpc_matches_held_out_labels(client):
    from kiln_classifier.data import load_split

    split = load_split()
    labels = []
    for start in range(0, len(split.x_test), 64):
        batch = split.x_test[start : start + 64]
        labels.append(client.predict("digits", {"image": batch}, outputs=["label"])["label"])
    accuracy = float(np.mean(np.concatenate(labels) == split.y_test))
    assert accuracy >= 0.985, accuracy


def test_digits_outputs_are_consistent(client):
    from kiln_classifier.data import load_split

    image = load_split().x_test[:5]
    out = client.predict("digits", {"image": image})
    assert out["logits"].shape == (5, 10) and out["logits"].dtype == np.float32
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["label"], out["logits"].argmax(axis=1))


def test_wrong_image_size_names_the_field(client):
    with pytest.raises(InvalidArgumentError) as info:
        client.predict("digits", {"image": np.zeros((1, 27, 28, 1), np.float32)})
    assert (info.value.reason, info.value.field) == ("INPUT_SHAPE_MISMATCH", "inputs[image].shape")


def test_readme_quickstart_prints_the_right_label(server):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- quickstart -->\n```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    code = code.replace("localhost:50051", server.address)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    label, truth = re.fullmatch(r"label (\d) p=[0-9.]+ truth (\d)\n", result.stdout).groups()
    assert label == truth == "8"


def test_no_compilation_on_the_request_path(client):
    from kiln.server import jax_runtime

    model = client.get_model("digits")
    before = jax_runtime.compile_count()
    rng = np.random.default_rng(0)
    for size in [1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 32, 33, 50, model.max_batch_size]:
        batch = rng.random((size, 28, 28, 1), dtype=np.float32)
        assert client.predict("digits", {"image": batch})["label"].shape == (size,)
    assert jax_runtime.compile_count() == before


@pytest.mark.parametrize("model", ["digits", "digits-gan"])
def test_builtin_models_pass_the_plugin_contract_check(model):
    from kiln.server.discovery import discover
    from kiln.server.testing import check_model

    catalog = discover()
    if model not in catalog.models:
        pytest.skip(f"{model} is not installed")
    check_model(catalog.models[model].spec)


def test_the_contract_check_catches_a_wrong_output_dtype(fake_plugin):
    from kiln.server.discovery import discover
    from kiln.server.testing import check_model

    spec = discover(block=["classifier", "gan"], extra_plugins=[("fake", fake_plugin)]).models
    check_model(spec["noise"].spec)
    broken = spec["scale"].spec
    import dataclasses

    from kiln.server.plugin import TensorSpec

    lying = dataclasses.replace(
        broken, outputs=(TensorSpec("doubled", "float16", (-1, 3)), broken.outputs[1])
    )
    with pytest.raises(AssertionError, match="'doubled' is float32, declared float16"):
        check_model(lying)


def test_readme_generate_snippet_streams_64_samples(server, client):
    if not any(m.name == "digits-gan" for m in client.list_models()):
        pytest.skip("digits-gan is not installed")
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- generate -->\n```python\n(.*?)```", readme, re.S).group(1)
    code = code.replace("localhost:50051", server.address)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{i} (16, 28, 28, 1) {16 * (i + 1)}/64" for i in range(4)
    ]


def test_kiln_generate_and_predict_commands(server, client, tmp_path):
    if not any(m.name == "digits-gan" for m in client.list_models()):
        pytest.skip("digits-gan is not installed")
    grid = tmp_path / "grid.png"
    common = ["--address", server.address]
    generate = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", "generate", "digits-gan", "--count", "16",
         "--seed", "7", "--out", str(grid), *common],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert generate.returncode == 0, generate.stderr
    assert "wrote 16 samples as a 4x4 grid" in generate.stdout
    from PIL import Image

    assert Image.open(grid).size == (4 * 28, 4 * 28)
    digit = tmp_path / "digit.png"
    from kiln_classifier.data import load_split

    split = load_split()
    Image.fromarray((split.x_test[0, :, :, 0] * 255).astype("uint8")).save(digit)
    predict = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", "predict", "digits", "--image", str(digit),
         *common],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert predict.returncode == 0, predict.stderr
    assert predict.stdout.splitlines()[0] == f"label {split.y_test[0]}"
