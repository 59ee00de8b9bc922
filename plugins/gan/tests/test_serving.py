"""The served generator: predict, seeded streaming (determinism, laziness, compilation)."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import numpy as np
import pytest

from kiln.server.plugin import GenerationRequest, GenerativeModel, LoadContext
from kiln_gan.artifacts import GENERATOR_FILE
from kiln_gan.serving import DigitsGenerator, seed_key_data

#: Max abs difference allowed between ``predict`` (compiled per batch bucket) and
#: ``generate`` (compiled for one block size) on the same latents: XLA's kernels for
#: different batch sizes round differently in the last bits. Generation itself is
#: compared bit for bit across chunk sizes.
PREDICT_TOLERANCE = 1e-5

#: JAX's monitoring event for one XLA backend compilation.
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def _all(model: DigitsGenerator, count: int, seed: int, chunk_size: int) -> list[np.ndarray]:
    return list(model.generate(GenerationRequest(count=count, seed=seed, chunk_size=chunk_size)))


def test_is_a_generative_model(shipped_model: DigitsGenerator) -> None:
    assert isinstance(shipped_model, GenerativeModel)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_predict_shapes_dtype_and_range(shipped_model: DigitsGenerator, n: int) -> None:
    z = np.random.default_rng(n).standard_normal((n, 100)).astype(np.float32)
    images = shipped_model.predict({"z": z})["images"]
    assert images.shape == (n, 28, 28, 1)
    assert images.dtype == np.float32
    assert np.isfinite(images).all()
    assert images.min() >= -1.0 and images.max() <= 1.0
    # The 2-pixel border is background, like the training images.
    assert (images[:, :2] == -1.0).all() and (images[:, :, -2:] == -1.0).all()
    # Different latents draw different images.
    if n > 1:
        assert not np.allclose(images[0], images[1])


def test_predict_rejects_a_wrong_latent_size(shipped_model: DigitsGenerator) -> None:
    with pytest.raises(ValueError):
        shipped_model.predict({"z": np.zeros((2, 99), np.float32)})


def test_chunks_have_the_requested_sizes(shipped_model: DigitsGenerator) -> None:
    chunks = _all(shipped_model, count=10, seed=0, chunk_size=4)
    assert [c.shape for c in chunks] == [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]
    assert all(c.dtype == np.float32 for c in chunks)
    assert _all(shipped_model, count=0, seed=0, chunk_size=4) == []


def test_same_seed_is_bit_identical_whatever_the_chunk_size(
    shipped_model: DigitsGenerator,
) -> None:
    """Bit for bit (np.array_equal), as Kiln's plugin contract demands."""
    count = 37
    streams = {
        size: np.concatenate(_all(shipped_model, count, seed=1234, chunk_size=size))
        for size in (1, 2, 5, 15, 16, 17, 37, 64, 256)
    }
    reference = streams[16]
    for size, stream in streams.items():
        assert stream.shape == (count, 28, 28, 1)
        np.testing.assert_array_equal(stream, reference, err_msg=f"chunk size {size}")
    # A prefix request gives the prefix.
    np.testing.assert_array_equal(np.concatenate(_all(shipped_model, 3, 1234, 2)), reference[:3])
    # A different seed draws different samples.
    other = np.concatenate(_all(shipped_model, count, seed=1235, chunk_size=16))
    assert np.abs(other - reference).max() > 0.5


def test_passes_kilns_plugin_contract_check() -> None:
    from kiln.server.testing import check_model
    from kiln_gan.plugin import kiln_model_specs

    (spec,) = list(kiln_model_specs())
    check_model(spec)


def test_sample_i_uses_fold_in_of_the_seed_key(shipped_model: DigitsGenerator) -> None:
    """Sample i of seed s is G(normal(fold_in(PRNGKey(s), i), (100,)))."""
    seed, count = 7, 6
    key = jax.random.PRNGKey(seed)
    z = np.stack(
        [np.asarray(jax.random.normal(jax.random.fold_in(key, i), (100,))) for i in range(count)]
    )
    expected = shipped_model.predict({"z": z.astype(np.float32)})["images"]
    got = np.concatenate(_all(shipped_model, count, seed=seed, chunk_size=4))
    np.testing.assert_allclose(got, expected, rtol=0, atol=PREDICT_TOLERANCE)


def test_seed_key_data_matches_prng_key() -> None:
    for seed in (0, 1, 42, 2**31 - 1, 2**32 - 1):
        np.testing.assert_array_equal(seed_key_data(seed), np.asarray(jax.random.PRNGKey(seed)))
    # Above 32 bits the high word is kept (JAX without x64 would drop it).
    np.testing.assert_array_equal(seed_key_data(2**40 + 7), [256, 7])
    with pytest.raises(ValueError):
        seed_key_data(-1)
    with pytest.raises(ValueError):
        seed_key_data(2**64)


def test_seeds_differing_above_32_bits_differ(shipped_model: DigitsGenerator) -> None:
    a = _all(shipped_model, 2, seed=5, chunk_size=2)[0]
    b = _all(shipped_model, 2, seed=5 + 2**32, chunk_size=2)[0]
    assert np.abs(a - b).max() > 0.5


def test_generate_is_lazy(shipped_model: DigitsGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is computed until next(), then only the blocks of that chunk."""
    stream = shipped_model._stream
    block = stream.block
    computed: list[int] = []
    original = stream._compute_block

    def counting(key_data, start):
        computed.append(start)
        return original(key_data, start)

    monkeypatch.setattr(stream, "_compute_block", counting)
    count = 3 * block + 2
    iterator = shipped_model.generate(GenerationRequest(count=count, seed=3, chunk_size=block))
    assert isinstance(iterator, Iterator)
    assert computed == []
    for i in range(3):
        assert len(next(iterator)) == block
        assert computed == [j * block for j in range(i + 1)]  # one block per next()
    last = next(iterator)  # the short last chunk: one whole block, sliced
    assert len(last) == 2 and computed == [0, block, 2 * block, 3 * block]
    with pytest.raises(StopIteration):
        next(iterator)
    assert len(computed) == 4

    # Small chunks share a block: it is computed once, when its first chunk is pulled.
    computed.clear()
    iterator = shipped_model.generate(GenerationRequest(count=block + 1, seed=3, chunk_size=4))
    assert computed == []
    next(iterator)
    assert computed == [0]
    for _ in range(3):
        next(iterator)
    assert computed == [0]
    next(iterator)
    assert computed == [0, block]


def test_bad_requests_fail_before_any_work(shipped_model: DigitsGenerator) -> None:
    with pytest.raises(ValueError):
        shipped_model.generate(GenerationRequest(count=4, seed=0, chunk_size=0))
    with pytest.raises(ValueError):
        shipped_model.generate(GenerationRequest(count=-1, seed=0, chunk_size=4))
    with pytest.raises(ValueError):
        shipped_model.generate(GenerationRequest(count=4, seed=-3, chunk_size=4))


def test_no_compilation_after_load_for_any_seed_or_chunk_size(
    shipped_model: DigitsGenerator,
) -> None:
    """Counted two ways: XLA compilations (jax.monitoring), and the jit cache size."""
    fn = shipped_model._stream.block_fn
    assert fn._cache_size() == 1  # compiled by load()

    compiles: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == COMPILE_EVENT:
            compiles.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for seed, chunk in [(101, 12), (102, 12), (2**33 + 5, 1), (2**64 - 1, 7), (9, 100)]:
            _all(shipped_model, 30, seed=seed, chunk_size=chunk)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    assert fn._cache_size() == 1


def test_samples_to_png_method(shipped_model: DigitsGenerator) -> None:
    (chunk,) = _all(shipped_model, 3, seed=0, chunk_size=3)
    pngs = shipped_model.samples_to_png(chunk)
    assert len(pngs) == 3 and all(p.startswith(b"\x89PNG") for p in pngs)


def test_load_rejects_weights_of_another_shape(tmp_path, shipped_model) -> None:
    from flax import serialization

    params = jax.tree_util.tree_map(np.asarray, shipped_model._params)
    params["out"]["kernel"] = np.zeros((2, 2, 1, 1), np.float32)
    (tmp_path / GENERATOR_FILE).write_bytes(serialization.to_bytes(params))
    model = DigitsGenerator(LoadContext(tmp_path, "9", (1,)))
    with pytest.raises(ValueError):
        model.load()


def test_load_without_weights_fails(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        DigitsGenerator(LoadContext(tmp_path, "9", (1,))).load()
