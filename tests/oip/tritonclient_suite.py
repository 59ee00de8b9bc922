"""Conformance checks of Kiln's OIP v2 endpoint with the real `tritonclient` package.

Runs in .venv-oip (scripts/oip-venv), never in the server's environment: tritonclient's
generated `inference.*` protos clash with Kiln's in one process, and it needs protobuf < 7.
tests/test_oip_tritonclient.py starts a server and runs this script against it:

    .venv-oip/bin/python tests/oip/tritonclient_suite.py fake --address 127.0.0.1:PORT \
        --out results.json
    .venv-oip/bin/python tests/oip/tritonclient_suite.py builtin --address 127.0.0.1:PORT \
        --images images.npy --out results.json --arrays outputs.npz

`fake` expects the test plugins' models (scale, noise, broken, mixed; see conftest.py).
`builtin` expects the built-in `digits` (and, if served, `digits-gan`) models. Each check
is recorded as {"ok": bool, "error": traceback}; the script exits 0 either way, so the
pytest side reports every check by name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import traceback
from collections.abc import Callable

import ml_dtypes
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException

CHECKS: dict[str, Callable] = {}


def check(fn: Callable) -> Callable:
    """Register a check; checks run in definition order."""
    CHECKS[fn.__name__] = fn
    return fn


def expect_error(call: Callable, status: str, *fragments: str) -> InferenceServerException:
    """`call()` must raise with gRPC status `status` and a message containing `fragments`."""
    try:
        call()
    except InferenceServerException as err:
        assert err.status() == f"StatusCode.{status}", (err.status(), err.message())
        for fragment in fragments:
            assert fragment in err.message(), (fragment, err.message())
        return err
    raise AssertionError(f"expected {status}, got no error")


def tensor(name: str, array: np.ndarray, datatype: str | None = None) -> grpcclient.InferInput:
    datatype = datatype or {np.dtype(ml_dtypes.bfloat16): "BF16"}.get(array.dtype)
    if datatype is None:
        from tritonclient.utils import np_to_triton_dtype

        datatype = np_to_triton_dtype(array.dtype)
    item = grpcclient.InferInput(name, list(array.shape), datatype)
    item.set_data_from_numpy(array)
    return item


def x(rows: int) -> np.ndarray:
    return np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)


# --- fake models -----------------------------------------------------------------------


@check
def health(c: grpcclient.InferenceServerClient) -> None:
    assert c.is_server_live() is True
    assert c.is_server_ready() is True
    assert c.is_model_ready("scale") is True
    assert c.is_model_ready("scale", "1") is True
    assert c.is_model_ready("nope") is False  # unknown model: not ready, not an error
    assert c.is_model_ready("scale", "7") is False
    assert c.is_model_ready("broken") is False  # failed to load


@check
def server_metadata(c: grpcclient.InferenceServerClient) -> None:
    meta = c.get_server_metadata()
    assert meta.name == "kiln" and meta.version
    assert set(meta.extensions) == {
        "model_configuration",
        "model_repository",
        "statistics",
        "parameters",
    }
    assert c.get_server_metadata(as_json=True)["name"] == "kiln"


@check
def model_metadata(c: grpcclient.InferenceServerClient) -> None:
    meta = c.get_model_metadata("scale", as_json=True)
    assert meta["name"] == "scale" and meta["platform"] == "jax" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "3"]}]
    assert meta["outputs"] == [
        {"name": "doubled", "datatype": "FP32", "shape": ["-1", "3"]},
        {"name": "total", "datatype": "FP64", "shape": ["-1"]},
    ]
    mixed = c.get_model_metadata("mixed", "1")
    assert [(t.name, t.datatype) for t in mixed.inputs] == [("ids", "INT64"), ("half", "FP16")]
    assert [(t.name, t.datatype, list(t.shape)) for t in mixed.outputs] == [
        ("ids_sum", "INT64", [-1]),
        ("half_doubled", "FP16", [-1, 2]),
        ("positive", "BOOL", [-1, 2]),
        ("half_bf16", "BF16", [-1, 2]),
    ]
    expect_error(lambda: c.get_model_metadata("nope"), "NOT_FOUND", "no model named 'nope'")
    expect_error(lambda: c.get_model_metadata("scale", "7"), "NOT_FOUND", "no version 7")


@check
def model_config(c: grpcclient.InferenceServerClient) -> None:
    config = c.get_model_config("scale", as_json=True)["config"]
    assert config["name"] == "scale" and config["platform"] == "jax"
    assert config["max_batch_size"] == 8
    assert config["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": ["3"]}]
    assert config["output"] == [
        {"name": "doubled", "data_type": "TYPE_FP32", "dims": ["3"]},
        {"name": "total", "data_type": "TYPE_FP64"},  # [-1] minus the batch dim: no dims
    ]
    assert config["dynamic_batching"] == {
        "preferred_batch_size": [1, 4, 8],
        "max_queue_delay_microseconds": "1500",  # the per-model setting of the test server
    }
    assert config["version_policy"] == {"latest": {"num_versions": 1}}
    mixed = c.get_model_config("mixed").config
    assert [o.data_type for o in mixed.output] == [9, 10, 1, 14]  # INT64 FP16 BOOL BF16
    expect_error(lambda: c.get_model_config("nope"), "NOT_FOUND", "nope")


@check
def repository_index(c: grpcclient.InferenceServerClient) -> None:
    index = {m.name: m for m in c.get_model_repository_index().models}
    assert set(index) == {"broken", "mixed", "noise", "scale"}
    assert (index["scale"].version, index["scale"].state) == ("1", "READY")
    assert index["broken"].state == "UNAVAILABLE" and "corrupt" in index["broken"].reason
    as_json = c.get_model_repository_index(as_json=True)
    assert {m["name"] for m in as_json["models"]} == set(index)


@check
def infer_fp32(c: grpcclient.InferenceServerClient) -> None:
    result = c.infer("scale", [tensor("x", x(2))], request_id="r-1")
    np.testing.assert_array_equal(result.as_numpy("doubled"), x(2) * 2)
    total = result.as_numpy("total")
    assert total.dtype == np.float64
    np.testing.assert_array_equal(total, [3.0, 12.0])
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == ("scale", "1", "r-1")
    assert [o.name for o in response.outputs] == ["doubled", "total"]
    assert result.get_output("total").datatype == "FP64"
    versioned = c.infer("scale", [tensor("x", x(1))], model_version="1")
    assert versioned.get_response().model_version == "1"


@check
def infer_requested_outputs(c: grpcclient.InferenceServerClient) -> None:
    only = c.infer("scale", [tensor("x", x(3))], outputs=[grpcclient.InferRequestedOutput("total")])
    assert only.as_numpy("doubled") is None
    np.testing.assert_array_equal(only.as_numpy("total"), [3.0, 12.0, 21.0])
    wanted = [grpcclient.InferRequestedOutput("total"), grpcclient.InferRequestedOutput("doubled")]
    both = c.infer("scale", [tensor("x", x(1))], outputs=wanted)
    assert [o.name for o in both.get_response().outputs] == ["total", "doubled"]
    expect_error(
        lambda: c.infer(
            "scale", [tensor("x", x(1))], outputs=[grpcclient.InferRequestedOutput("nope")]
        ),
        "INVALID_ARGUMENT",
        "has no output 'nope'",
    )


@check
def infer_int64_fp16_bool_bf16(c: grpcclient.InferenceServerClient) -> None:
    ids = np.array([[1, 2], [2**40, -5]], dtype=np.int64)
    half = np.array([[0.5, -1.5], [3.0, 0.0]], dtype=np.float16)
    result = c.infer("mixed", [tensor("ids", ids), tensor("half", half)])
    ids_sum = result.as_numpy("ids_sum")
    assert ids_sum.dtype == np.int64
    np.testing.assert_array_equal(ids_sum, [3, 2**40 - 5])
    doubled = result.as_numpy("half_doubled")
    assert doubled.dtype == np.float16
    np.testing.assert_array_equal(doubled, half * 2)
    positive = result.as_numpy("positive")
    assert positive.dtype == np.bool_
    np.testing.assert_array_equal(positive, [[True, False], [True, False]])
    bf16 = result.as_numpy("half_bf16")
    assert bf16.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(bf16, half.astype(ml_dtypes.bfloat16))


@check
def infer_bytes(c: grpcclient.InferenceServerClient) -> None:
    # No model signature declares strings: BYTES is decoded, then refused by datatype.
    words = np.array([[b"a", b"bc", b""]], dtype=np.object_)
    expect_error(
        lambda: c.infer("scale", [tensor("x", words, "BYTES")]),
        "INVALID_ARGUMENT",
        "input 'x' has datatype BYTES, but model 'scale' expects FP32",
    )


@check
def infer_errors(c: grpcclient.InferenceServerClient) -> None:
    expect_error(lambda: c.infer("nope", [tensor("x", x(1))]), "NOT_FOUND", "no model named")
    expect_error(
        lambda: c.infer("scale", [tensor("x", x(1).astype(np.float64))]),
        "INVALID_ARGUMENT",
        "has datatype FP64, but model 'scale' expects FP32",
    )
    expect_error(
        lambda: c.infer("scale", [tensor("x", np.zeros((2, 4), np.float32))]),
        "INVALID_ARGUMENT",
        "must have shape [-1, 3]",
    )
    expect_error(
        lambda: c.infer("mixed", [tensor("ids", np.zeros((1, 2), np.int64))]),
        "INVALID_ARGUMENT",
        "needs input 'half'",
    )
    expect_error(lambda: c.infer("scale", [tensor("x", x(9))]), "INVALID_ARGUMENT", "exceeds model")
    expect_error(
        lambda: c.infer("scale", [tensor("x", x(1))], model_version="abc"),
        "INVALID_ARGUMENT",
        "not a positive integer",
    )
    expect_error(
        lambda: c.infer("scale", [tensor("x", x(1))], model_version="7"), "NOT_FOUND", "version"
    )
    expect_error(
        lambda: c.infer("broken", [tensor("x", x(1))]), "UNAVAILABLE", "weights file is corrupt"
    )
    err = expect_error(
        lambda: c.infer("scale", [tensor("x", np.full((1, 3), -999.0, np.float32))]),
        "INTERNAL",
        "failed",
    )
    assert "secret" not in err.message()
    expect_error(
        lambda: c.infer(
            "scale",
            [tensor("x", x(1))],
            outputs=[grpcclient.InferRequestedOutput("doubled", class_count=2)],
        ),
        "INVALID_ARGUMENT",
        "classification",
    )
    expect_error(
        lambda: c.infer("scale", [tensor("x", x(1))], sequence_id=5),
        "INVALID_ARGUMENT",
        "sequences",
    )
    # The server keeps serving after every one of them.
    np.testing.assert_array_equal(c.infer("scale", [tensor("x", x(1))]).as_numpy("total"), [3.0])


@check
def infer_parameters(c: grpcclient.InferenceServerClient) -> None:
    ok = c.infer("scale", [tensor("x", x(1))], priority=1, parameters={"note": "ignored"})
    np.testing.assert_array_equal(ok.as_numpy("total"), [3.0])
    # `timeout` (microseconds) is a deadline: 1 us expires in the batching queue.
    expect_error(
        lambda: c.infer("scale", [tensor("x", x(1))], timeout=1), "DEADLINE_EXCEEDED", "deadline"
    )
    gz = c.infer("scale", [tensor("x", x(2))], compression_algorithm="gzip")
    np.testing.assert_array_equal(gz.as_numpy("doubled"), x(2) * 2)


@check
def generate_with_count_and_seed(c: grpcclient.InferenceServerClient) -> None:
    # The fake generator's sample i for seed s is [s, i, i*i].
    result = c.infer("noise", [], parameters={"count": 5, "seed": 3}, request_id="g")
    samples = result.as_numpy("doubled")
    i = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(samples, np.stack([np.full(5, 3.0), i, i * i], axis=1))
    assert result.get_response().id == "g"
    # Plain inference on a generative model still works with its inputs.
    np.testing.assert_array_equal(c.infer("noise", [tensor("x", x(1))]).as_numpy("total"), [3.0])
    expect_error(
        lambda: c.infer("noise", [], parameters={"count": 1001}),
        "INVALID_ARGUMENT",
        "count must be between 1 and 1000",
    )
    expect_error(
        lambda: c.infer("scale", [], parameters={"count": 2}),
        "FAILED_PRECONDITION",
        "does not generate",
    )
    expect_error(
        lambda: c.infer("noise", [tensor("x", x(1))], parameters={"count": 2}),
        "INVALID_ARGUMENT",
        "without inputs",
    )


@check
def statistics(c: grpcclient.InferenceServerClient) -> None:
    def scale_stats():
        (stats,) = c.get_inference_statistics("scale").model_stats
        return stats

    before = scale_stats()
    for _ in range(3):
        c.infer("scale", [tensor("x", x(2))])
    expect_error(
        lambda: c.infer("scale", [tensor("x", np.full((1, 3), -999.0, np.float32))]),
        "INTERNAL",
    )
    after = scale_stats()
    assert (after.name, after.version) == ("scale", "1")
    assert after.inference_count - before.inference_count == 6  # 3 requests x 2 items
    assert after.execution_count - before.execution_count == 3
    ok, failed = after.inference_stats.success, after.inference_stats.fail
    assert ok.count - before.inference_stats.success.count == 3
    assert failed.count - before.inference_stats.fail.count == 1
    assert ok.ns > before.inference_stats.success.ns
    assert after.inference_stats.compute_infer.ns > before.inference_stats.compute_infer.ns
    assert after.last_inference >= before.last_inference > 0
    pairs = {b.batch_size: b.compute_infer.count for b in after.batch_stats}
    pairs_before = {b.batch_size: b.compute_infer.count for b in before.batch_stats}
    assert pairs[2] - pairs_before.get(2, 0) == 3
    everything = c.get_inference_statistics(as_json=True)["model_stats"]
    assert {s["name"] for s in everything} == {"broken", "mixed", "noise", "scale"}
    expect_error(lambda: c.get_inference_statistics("nope"), "NOT_FOUND", "nope")


@check
def unimplemented_extensions(c: grpcclient.InferenceServerClient) -> None:
    expect_error(c.get_system_shared_memory_status, "UNIMPLEMENTED")
    expect_error(c.get_cuda_shared_memory_status, "UNIMPLEMENTED")
    expect_error(c.get_trace_settings, "UNIMPLEMENTED")
    expect_error(c.get_log_settings, "UNIMPLEMENTED")
    region = np.zeros((1, 3), np.float32)
    shm = grpcclient.InferInput("x", [1, 3], "FP32")
    shm.set_shared_memory("region", region.nbytes)
    expect_error(lambda: c.infer("scale", [shm]), "INVALID_ARGUMENT", "shared memory")


@check
def async_infer(c: grpcclient.InferenceServerClient) -> None:
    done = threading.Event()
    results: dict[str, object] = {}
    lock = threading.Lock()

    def callback(result, error, rows):
        with lock:
            results[rows] = error if error is not None else result
            if len(results) == 4:
                done.set()

    for rows in (1, 2, 3, 4):
        c.async_infer(
            "scale",
            [tensor("x", x(rows))],
            lambda result, error, rows=rows: callback(result, error, rows),
            request_id=f"a{rows}",
        )
    assert done.wait(30), "async_infer callbacks did not all arrive"
    for rows, result in results.items():
        assert not isinstance(result, Exception), result
        assert result.get_response().id == f"a{rows}"
        np.testing.assert_array_equal(result.as_numpy("doubled"), x(rows) * 2)


@check
def stream_infer(c: grpcclient.InferenceServerClient) -> None:
    results, errors = {}, []
    lock = threading.Lock()

    def callback(result, error):
        with lock:
            if error is not None:
                errors.append(error)
            else:
                results[result.get_response().id] = result

    c.start_stream(callback=callback)
    for rows in (1, 2, 3):
        c.async_stream_infer("scale", [tensor("x", x(rows))], request_id=f"s{rows}")
    c.async_stream_infer("scale", [tensor("x", np.zeros((1, 4), np.float32))], request_id="bad")
    c.async_stream_infer("noise", [], request_id="gen", parameters={"count": 3, "seed": 9})
    c.async_stream_infer("scale", [tensor("x", x(4))], request_id="s4")
    finished = threading.Thread(target=c.stop_stream)  # returns once the server ends the call
    finished.start()
    finished.join(30)
    assert not finished.is_alive(), "stop_stream() did not return: the server kept the call open"
    assert sorted(results) == ["gen", "s1", "s2", "s3", "s4"], sorted(results)
    for rows in (1, 2, 3, 4):
        np.testing.assert_array_equal(results[f"s{rows}"].as_numpy("doubled"), x(rows) * 2)
    np.testing.assert_array_equal(results["gen"].as_numpy("doubled")[:, 0], [9.0, 9.0, 9.0])
    assert len(errors) == 1 and "must have shape [-1, 3]" in errors[0].message(), errors
    # A second stream on the same client works: the first one really ended.
    c.start_stream(callback=callback)
    c.async_stream_infer("scale", [tensor("x", x(1))], request_id="again")
    c.stop_stream()
    assert "again" in results


@check
def asyncio_client(address: str) -> None:
    async def scenario() -> None:
        async with aioclient.InferenceServerClient(address) as c:
            assert await c.is_server_live() and await c.is_server_ready()
            assert await c.is_model_ready("nope") is False
            meta = await c.get_model_metadata("scale")
            assert [i.datatype for i in meta.inputs] == ["FP32"]
            assert (await c.get_server_metadata()).name == "kiln"
            assert (await c.get_model_config("scale")).config.max_batch_size == 8
            result = await c.infer("scale", [tensor("x", x(2))], request_id="aio")
            np.testing.assert_array_equal(result.as_numpy("total"), [3.0, 12.0])
            try:
                await c.infer("nope", [tensor("x", x(1))])
            except InferenceServerException as err:
                assert err.status() == "StatusCode.NOT_FOUND", err.status()
            else:
                raise AssertionError("unknown model did not fail")

            async def requests():
                for rows in (1, 2):
                    yield {"model_name": "scale", "inputs": [tensor("x", x(rows))],
                           "request_id": f"q{rows}"}  # fmt: skip
                yield {"model_name": "nope", "inputs": [tensor("x", x(1))], "request_id": "bad"}
                yield {"model_name": "scale", "inputs": [tensor("x", x(3))], "request_id": "q3"}

            ok, failed = {}, []
            async for result, error in c.stream_infer(requests()):
                if error is not None:
                    failed.append(error.message())
                else:
                    ok[result.get_response().id] = result.as_numpy("doubled")
            assert sorted(ok) == ["q1", "q2", "q3"], sorted(ok)
            for rows in (1, 2, 3):
                np.testing.assert_array_equal(ok[f"q{rows}"], x(rows) * 2)
            assert len(failed) == 1 and "no model named 'nope'" in failed[0], failed

    asyncio.run(asyncio.wait_for(scenario(), 60))


@check
def load_and_unload(c: grpcclient.InferenceServerClient) -> None:
    c.unload_model("scale")
    try:
        assert c.is_model_ready("scale") is False
        index = {m.name: m for m in c.get_model_repository_index().models}
        assert index["scale"].state == "UNAVAILABLE"
        expect_error(lambda: c.infer("scale", [tensor("x", x(1))]), "UNAVAILABLE", "UNAVAILABLE")
    finally:
        c.load_model("scale")
    assert c.is_model_ready("scale") is True
    np.testing.assert_array_equal(c.infer("scale", [tensor("x", x(1))]).as_numpy("total"), [3.0])
    expect_error(lambda: c.load_model("broken"), "INTERNAL", "weights file is corrupt")
    expect_error(lambda: c.load_model("nope"), "NOT_FOUND", "nope")
    expect_error(lambda: c.unload_model("nope"), "NOT_FOUND", "nope")
    expect_error(
        lambda: c.load_model("scale", config='{"max_batch_size": 2}'),
        "INVALID_ARGUMENT",
        "overrides are not supported",
    )


# --- built-in models -------------------------------------------------------------------


def run_builtin(address: str, images_path: str) -> tuple[dict, dict]:
    """Classify the given digit images and sample digits-gan; return checks and arrays."""
    results, arrays = {}, {}
    images = np.load(images_path)
    with grpcclient.InferenceServerClient(address) as c:

        def digits() -> None:
            meta = c.get_model_metadata("digits")
            assert [(i.name, i.datatype, list(i.shape)) for i in meta.inputs] == [
                ("image", "FP32", [-1, 28, 28, 1])
            ]
            result = c.infer("digits", [tensor("image", images)])
            arrays["label"] = result.as_numpy("label")
            arrays["probabilities"] = result.as_numpy("probabilities")
            assert arrays["label"].dtype == np.int64

        def digits_gan() -> None:
            if not c.is_model_ready("digits-gan"):
                raise LookupError("digits-gan is not served")
            result = c.infer("digits-gan", [], parameters={"count": 4, "seed": 7})
            arrays["gan_images"] = result.as_numpy("images")
            z = np.zeros((2, 100), np.float32)
            arrays["gan_from_z"] = c.infer("digits-gan", [tensor("z", z)]).as_numpy("images")

        for name, fn in (("digits", digits), ("digits_gan", digits_gan)):
            results[name] = _run(fn)
    return results, arrays


def _run(fn: Callable, *args) -> dict:
    try:
        fn(*args)
    except LookupError as err:
        return {"ok": None, "error": str(err)}
    except BaseException:
        return {"ok": False, "error": traceback.format_exc()}
    return {"ok": True, "error": ""}


def run_fake(address: str) -> dict:
    results = {}
    with grpcclient.InferenceServerClient(address) as client:
        for name, fn in CHECKS.items():
            results[name] = _run(fn, address if name == "asyncio_client" else client)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["fake", "builtin"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--out", required=True, help="JSON file for the check results")
    parser.add_argument("--images", help="builtin: .npy of digit images to classify")
    parser.add_argument("--arrays", help="builtin: .npz file for the outputs")
    args = parser.parse_args()
    if args.mode == "fake":
        results = run_fake(args.address)
    else:
        results, arrays = run_builtin(args.address, args.images)
        np.savez(args.arrays, **arrays)
    with open(args.out, "w") as out:
        json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
