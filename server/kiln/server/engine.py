"""The one inference path every protocol front end calls: resolve, validate, batch, run.

Servicers turn wire messages into numpy arrays and back; everything between is here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from kiln.server.errors import InvalidInput, Unsupported
from kiln.server.plugin import GenerationRequest
from kiln.server.registry import ModelEntry, ModelRegistry, ModelVersion
from kiln.server.settings import KilnSettings
from kiln.server.signatures import validate_inputs, validate_output_filter

R = TypeVar("R")


@dataclass(frozen=True)
class Prediction:
    """Outputs of one Predict, with the model version that produced them."""

    entry: ModelEntry
    version: ModelVersion
    outputs: dict[str, np.ndarray]


class Engine:
    """Runs predictions and generations against the registry's models."""

    def __init__(self, registry: ModelRegistry, settings: KilnSettings) -> None:
        self.registry = registry
        self._settings = settings

    async def predict(
        self,
        model: str,
        version: str,
        inputs: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        deadline: float | None,
        encode: Callable[[Prediction], R],
    ) -> R:
        """Validate `inputs` against the model's signature, run them batched, encode the result.

        Args:
            deadline: Absolute `time.monotonic()` after which queued work is dropped.
            encode: Turns the prediction into the protocol's response. It runs on the
                model's worker thread, right after the batch is sliced, so building the
                response message costs the event loop nothing.
        """
        entry, chosen = self.registry.resolve(model, version)
        size = validate_inputs(entry.spec, inputs, entry.max_batch_size)
        wanted = validate_output_filter(entry.spec, output_names)

        def finish(outputs: Mapping[str, np.ndarray]) -> R:
            return encode(Prediction(entry, chosen, {name: outputs[name] for name in wanted}))

        assert chosen.batcher is not None  # READY versions always have one
        return await chosen.batcher.submit(inputs, size, deadline, finish)

    def check_generate(
        self, model: str, version: str, count: int, chunk_size: int
    ) -> tuple[ModelEntry, ModelVersion, int]:
        """Validate a generation request; return the model, version and chunk size to use."""
        entry, chosen = self.registry.resolve(model, version)
        if not entry.spec.generative:
            raise Unsupported(
                f"model {model!r} does not generate samples; call Predict instead",
                reason="GENERATION_UNSUPPORTED",
                metadata={"model": model},
            )
        limit = self._settings.max_generate_count
        if not 1 <= count <= limit:
            raise InvalidInput(
                f"count must be between 1 and {limit}, got {count}",
                reason="COUNT_OUT_OF_RANGE",
                field="count",
                metadata={"max": str(limit)},
            )
        max_chunk = self._settings.max_chunk_size
        if not 0 <= chunk_size <= max_chunk:
            raise InvalidInput(
                f"chunk_size must be between 1 and {max_chunk} (0 lets the server choose), "
                f"got {chunk_size}",
                reason="CHUNK_SIZE_OUT_OF_RANGE",
                field="chunk_size",
                metadata={"max": str(max_chunk)},
            )
        return entry, chosen, min(chunk_size or self._settings.default_chunk_size, count, max_chunk)

    async def generate(
        self,
        version: ModelVersion,
        count: int,
        seed: int,
        chunk_size: int,
        encode: Callable[[np.ndarray], R] = lambda samples: samples,
    ) -> AsyncIterator[R]:
        """Yield encoded chunks as the model produces them, computing the next while one is sent.

        Chunks are computed, and turned into the protocol's message by `encode` (by default
        left as numpy arrays), on the model's worker thread, one ahead of the caller: a
        caller that stops iterating (cancel, disconnect, deadline) leaves at most the one
        chunk in progress to finish.
        """
        model = version.model
        assert model is not None
        request = GenerationRequest(count=count, seed=seed, chunk_size=chunk_size)
        done = object()
        chunks: Iterator[np.ndarray] | None = None

        def next_encoded() -> object:
            nonlocal chunks
            if chunks is None:  # the first job also starts the generation: one hop less
                chunks = iter(model.generate(request))  # type: ignore[attr-defined]
            chunk = next(chunks, done)
            return done if chunk is done else encode(np.asarray(chunk))

        def close() -> None:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()

        pending = asyncio.ensure_future(version.run(next_encoded))
        try:
            while (encoded := await pending) is not done:
                pending = asyncio.ensure_future(version.run(next_encoded))
                yield encoded
        finally:
            # Nobody awaits a prefetched chunk once the caller has gone; its outcome is moot.
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            if version.worker is not None:
                # Queued behind the chunk in progress, so it never races the generator.
                version.worker.submit(close)
