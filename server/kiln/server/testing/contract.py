"""A contract check a plugin author runs in their own tests: does a model keep its promises?"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kiln.server.batching import zero_batch
from kiln.server.plugin import GenerationRequest, LoadContext, ModelSpec


def check_model(spec: ModelSpec, artifact_dir: Path | None = None) -> None:
    """Load the model of `spec` and check it against its own signature.

    Every batch bucket is run with zeros: each declared output must come back with its
    declared dtype and shape and the batch size of the input. A generative model must
    also yield `count` samples lazily, identical whatever the chunk size, and encode
    them as PNG. Raises AssertionError naming the first broken promise.
    """
    artifact = artifact_dir or spec.default_artifact
    assert artifact is not None, f"{spec.name}: no artifact given and none shipped"
    model = spec.factory(LoadContext(artifact, artifact.name, spec.batch_buckets))
    model.load()
    try:
        for size in spec.batch_buckets:
            outputs = model.predict(zero_batch(spec, size))
            for tensor in spec.outputs:
                assert tensor.name in outputs, f"{spec.name}: output {tensor.name!r} missing"
                array = np.asarray(outputs[tensor.name])
                assert array.dtype.name == tensor.dtype, (
                    f"{spec.name}: output {tensor.name!r} is {array.dtype.name}, "
                    f"declared {tensor.dtype}"
                )
                assert array.shape[0] == size and len(array.shape) == len(tensor.shape), (
                    f"{spec.name}: output {tensor.name!r} has shape {array.shape} for a batch "
                    f"of {size}; declared {list(tensor.shape)}"
                )
                assert all(
                    d in (-1, a) for d, a in zip(tensor.shape[1:], array.shape[1:], strict=True)
                ), (
                    f"{spec.name}: output {tensor.name!r} shape {array.shape} does not match "
                    f"{list(tensor.shape)}"
                )
        if spec.generative:
            _check_generation(spec, model)
    finally:
        model.unload()


def _check_generation(spec: ModelSpec, model) -> None:
    runs = []
    for chunk_size in (1, 2, 5):
        chunks = list(model.generate(GenerationRequest(count=5, seed=3, chunk_size=chunk_size)))
        assert [len(c) for c in chunks][:-1] == [chunk_size] * (len(chunks) - 1), (
            f"{spec.name}: generate must yield chunks of chunk_size={chunk_size}"
        )
        runs.append(np.concatenate([np.asarray(c) for c in chunks]))
    assert all(len(r) == 5 for r in runs), f"{spec.name}: generate must yield count samples"
    assert all(np.array_equal(runs[0], r) for r in runs[1:]), (
        f"{spec.name}: the same seed must give the same samples whatever the chunk size"
    )
    pngs = list(model.samples_to_png(runs[0][:2]))
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs), (
        f"{spec.name}: samples_to_png must return one PNG per sample"
    )
