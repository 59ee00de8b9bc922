"""Serving the digits generator: `DigitsGenerator` (Kiln's `GenerativeModel`).

``predict`` maps given latents to images; ``generate`` streams samples for a seed. Sample
``i`` of seed ``s`` is always ``G(normal(fold_in(PRNGKey(s), i), (100,)))``, so a stream
does not depend on how it is chunked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kiln.server.plugin import GenerationRequest, LoadContext
from kiln_gan.artifacts import GENERATOR_FILE
from kiln_gan.imaging import samples_to_png
from kiln_gan.signature import IMAGE_SIZE, LATENT_DIM

#: Largest seed `generate` accepts (seeds are unsigned 64-bit integers).
MAX_SEED = 2**64 - 1
#: Samples per compiled generation call (the alignment unit of `SampleStream`): 16 costs
#: ~0.7 ms on 2 CPU cores, ~44 us a sample against ~35 us at 64 (see BUCKETS.md), and
#: wastes little when a client asks for a handful of samples.
GENERATION_BLOCK = 16


def seed_key_data(seed: int) -> np.ndarray:
    """The raw threefry key data of ``PRNGKey(seed)`` as uint32 [2], computed on the host.

    Equal to ``jax.random.PRNGKey(seed)`` for seeds below 2**32, and to what JAX computes
    with 64-bit mode on (high word, low word) for larger ones; without 64-bit mode JAX
    would silently drop the high word, making seeds 2**32 apart collide. Host-side, so a
    new seed costs no tracing or compilation.
    """
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)


def load_generator_params(artifact_dir: Path) -> tuple[Any, Any]:
    """Read ``generator.msgpack`` from a version directory.

    Returns:
        ``(generator, params)``: the `Generator` module matching the weights and its
        ``params`` collection as numpy arrays.

    Raises:
        FileNotFoundError: The directory has no generator weights.
        ValueError: The weights do not have the generator's structure.
    """
    import jax
    from flax import serialization

    from kiln_gan.model import abstract_generator_params, generator_from_params

    path = Path(artifact_dir) / GENERATOR_FILE
    params = serialization.msgpack_restore(path.read_bytes())
    generator = generator_from_params(params)
    expected = abstract_generator_params(generator)
    got = jax.tree_util.tree_map(lambda a: (a.shape, str(a.dtype)), params)
    want = jax.tree_util.tree_map(lambda a: (tuple(a.shape), str(a.dtype)), expected)
    if got != want:
        raise ValueError(f"{path}: parameters do not match the generator ({got} != {want})")
    return generator, params


class SampleStream:
    """Seeded sampling from a generator whose output does not depend on the chunking.

    Samples are computed in aligned blocks of `GENERATION_BLOCK`: block ``b`` holds samples
    ``b*B .. b*B+B-1``, always computed by the same compiled function from
    ``(params, key data, b*B)``. A chunk is cut from the blocks it overlaps. So sample
    ``i`` is bit-for-bit the same whatever the chunk size (XLA compiles a different kernel
    per batch size, and those differ in the last float bits: measured up to 3e-6 here),
    one compilation serves every chunk size, and the seed is data, so a new seed never
    recompiles. Used by `DigitsGenerator.generate` and by the evaluation.
    """

    def __init__(self, generator: Any, params: Any, block: int = GENERATION_BLOCK) -> None:
        """Sample from `generator` (a flax module) with `params` (its ``params`` collection)."""
        import jax
        import jax.numpy as jnp

        self._params = params
        self.block = block

        def block_fn(params, key_data, start):
            key = jax.random.wrap_key_data(key_data, impl="threefry2x32")
            indices = start + jnp.arange(block, dtype=jnp.int32)
            z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (LATENT_DIM,)))(
                indices
            )
            return generator.apply({"params": params}, z)

        #: The one jitted ``(params, key_data uint32[2], start int32) -> [block, 28, 28, 1]``.
        self.block_fn = jax.jit(block_fn)

    def compile(self) -> None:
        """Compile (and run once) the block function, so no request pays for it."""
        self._compute_block(seed_key_data(0), 0)

    def _compute_block(self, key_data: np.ndarray, start: int) -> np.ndarray:
        images = self.block_fn(self._params, key_data, np.int32(start))
        return np.asarray(images, dtype=np.float32)

    def latents(self, seed: int, start: int, count: int) -> np.ndarray:
        """The latents [count, 100] of samples ``start .. start+count-1`` for `seed`."""
        import jax

        key = jax.random.wrap_key_data(seed_key_data(seed), impl="threefry2x32")
        return np.stack(
            [
                np.asarray(jax.random.normal(jax.random.fold_in(key, i), (LATENT_DIM,)))
                for i in range(start, start + count)
            ]
        )

    def iterate(self, count: int, seed: int, chunk_size: int) -> Iterator[np.ndarray]:
        """Yield `count` samples for `seed`, `chunk_size` at a time, computed lazily.

        Arguments are checked now; each next() computes only the blocks its chunk needs
        (a block shared with the previous chunk is reused, not recomputed).
        """
        if count < 0 or chunk_size < 1:
            raise ValueError(f"need count >= 0 and chunk_size >= 1, got {count}, {chunk_size}")
        if count > 2**31 - 1 - self.block:
            # Sample indices are folded in as int32.
            raise ValueError(f"count {count} too large")
        return self._iterate(count, seed_key_data(seed), chunk_size)

    def _iterate(self, count: int, key_data: np.ndarray, chunk_size: int) -> Iterator[np.ndarray]:
        # A generator function: nothing below runs until the first next().
        block = self.block
        cached_start, cached = -1, np.empty(0)
        for start in range(0, count, chunk_size):
            stop = min(start + chunk_size, count)
            pieces = []
            for block_start in range(start - start % block, stop, block):
                if block_start != cached_start:
                    cached_start, cached = block_start, self._compute_block(key_data, block_start)
                pieces.append(cached[max(start - block_start, 0) : stop - block_start])
            yield pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


class DigitsGenerator:
    """The ``digits-gan`` model: latents in, 28x28 digit images in [-1, 1] out.

    Inputs: ``z`` float32 [N, 100]. Outputs: ``images`` float32 [N, 28, 28, 1] in [-1, 1]
    (map with ``(x + 1) / 2`` for [0, 1]). Also streams seeded samples (`generate`).
    """

    def __init__(self, ctx: LoadContext) -> None:
        """Remember where the weights are; reading and compiling wait for `load`."""
        self._ctx = ctx
        self._params: Any = None
        self._apply: Callable | None = None
        self._stream: SampleStream | None = None

    def load(self) -> None:
        """Read the generator weights and compile ``predict`` for every batch bucket."""
        import jax

        generator, params = load_generator_params(self._ctx.artifact_dir)
        self._params = jax.device_put(params)
        self._apply = jax.jit(lambda p, z: generator.apply({"params": p}, z))
        self._stream = SampleStream(generator, self._params)
        # Compile now rather than on the first request of each size.
        for bucket in self._ctx.batch_buckets:
            self._apply(self._params, np.zeros((bucket, LATENT_DIM), np.float32))
        self._stream.compile()

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Map ``{"z": float32 [N, 100]}`` to ``{"images": float32 [N, 28, 28, 1]}``."""
        if self._apply is None:
            raise RuntimeError("predict() before load()")
        z = np.asarray(inputs["z"], dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != LATENT_DIM:
            raise ValueError(f"z must have shape [N, {LATENT_DIM}], got {z.shape}")
        images = np.asarray(self._apply(self._params, z), dtype=np.float32)
        return {"images": images.reshape(z.shape[0], IMAGE_SIZE, IMAGE_SIZE, 1)}

    def generate(self, request: GenerationRequest) -> Iterator[np.ndarray]:
        """Yield ``request.count`` samples [chunk, 28, 28, 1] in [-1, 1], one chunk per next().

        Arguments are checked now; all computing happens in next(). Equal seeds give
        bit-for-bit equal samples whatever the chunk size, and no chunk size or seed
        compiles anything after `load` (see `SampleStream`).
        """
        if self._stream is None:
            raise RuntimeError("generate() before load()")
        return self._stream.iterate(request.count, request.seed, request.chunk_size)

    def samples_to_png(self, samples: np.ndarray) -> Sequence[bytes]:
        """Encode a chunk from `generate` (or ``predict`` images) as one 28x28 PNG each."""
        return samples_to_png(samples)

    def unload(self) -> None:
        """Drop the weights and compiled functions."""
        self._params = None
        self._apply = None
        self._stream = None
