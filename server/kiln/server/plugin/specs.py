"""Typed records a plugin hands to Kiln, and the model contract it implements.

Nothing here imports gRPC or JAX: a plugin depends on this module alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: numpy dtype names a signature may use; each has a wire type in kiln.v1 and OIP v2.
SUPPORTED_DTYPES: frozenset[str] = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "bfloat16",
        "float32",
        "float64",
    }
)


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model.

    Attributes:
        name: Name the tensor is addressed by on the wire.
        dtype: numpy dtype name, one of `SUPPORTED_DTYPES` (e.g. ``"float32"``).
        shape: Dimensions with the batch axis first; ``-1`` marks a free dimension.
            The batch axis is always free (``-1``).
        description: What the tensor means, shown to API users.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"tensor {self.name!r}: unsupported dtype {self.dtype!r}")
        if not self.shape or self.shape[0] != -1:
            raise ValueError(f"tensor {self.name!r}: the first (batch) dimension must be -1")
        if any(d < -1 or d == 0 for d in self.shape):
            raise ValueError(f"tensor {self.name!r}: dimensions must be positive or -1")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))


@dataclass(frozen=True)
class GenerationRequest:
    """What a client asked a generative model for.

    Attributes:
        count: Number of samples in all.
        seed: Seed for the model's random source; equal seeds give equal samples.
        chunk_size: Samples per chunk the iterator should yield (the last may be smaller).
    """

    count: int
    seed: int
    chunk_size: int


@runtime_checkable
class Model(Protocol):
    """The contract every served model implements: synchronous, numpy in, numpy out.

    Kiln owns asyncio, queueing, batching, padding and threads. It calls `load` once in a
    worker thread, then `predict` with whole batches (already validated against the
    signature and padded to one of the spec's batch buckets), and `unload` when the version
    is retired. No two calls on one instance overlap.
    """

    def load(self) -> None:
        """Read weights and prepare compiled functions. Called once, before any predict."""

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Run one batch.

        Args:
            inputs: One array per input of the signature, all with the same batch size.

        Returns:
            One array per output of the signature, each with the batch size of the inputs.
        """

    def unload(self) -> None:
        """Release what `load` acquired. The instance is not used afterwards."""


@runtime_checkable
class GenerativeModel(Model, Protocol):
    """A model that can also produce samples on demand (streamed to the client)."""

    def generate(self, request: GenerationRequest) -> Iterator[np.ndarray]:
        """Yield samples lazily, `request.chunk_size` at a time (batch axis first).

        Kiln pulls one chunk at a time and stops pulling when the client goes away, so work
        must happen inside `next()`, not up front. For a given seed the concatenated chunks
        must not depend on the chunk size.
        """

    def samples_to_png(self, samples: np.ndarray) -> Sequence[bytes]:
        """Encode a chunk of samples (as `generate` yields them) as one PNG image each."""


@dataclass(frozen=True)
class LoadContext:
    """What a model factory is given.

    Attributes:
        artifact_dir: Directory of the version to serve (weights and ``manifest.json``).
        version: The version label (a positive integer as a string).
        batch_buckets: Batch sizes the server will call `Model.predict` with.
    """

    artifact_dir: Path
    version: str
    batch_buckets: tuple[int, ...]


#: Called with one human-readable line of progress (an epoch, a step of evaluation).
ProgressReporter = Callable[[str], None]


@dataclass(frozen=True)
class TrainContext:
    """What a training entry point is given.

    Attributes:
        output_dir: Empty directory to write the weights into; Kiln adds the manifest.
        config: The training configuration (an instance of the spec's `config_model`, or
            ``None`` when the spec has none).
        progress: Reports progress lines to the person running ``kiln train``.
    """

    output_dir: Path
    config: Any
    progress: ProgressReporter


@dataclass(frozen=True)
class TrainResult:
    """What a training run reports back; Kiln records it in the version's manifest.

    Attributes:
        config: The configuration used, as plain JSON-compatible values.
        data_fingerprint: A digest of the training data, so a version names its data.
        metrics: Held-out evaluation figures (e.g. ``{"accuracy": 0.99}``).
    """

    config: Mapping[str, Any]
    data_fingerprint: str
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class EvaluateContext:
    """What an evaluation entry point is given.

    Attributes:
        artifact_dir: Directory of the version to evaluate.
        report_dir: Directory to write report files (plots) into.
        progress: Reports progress lines to the person running ``kiln evaluate``.
    """

    artifact_dir: Path
    report_dir: Path
    progress: ProgressReporter


@dataclass(frozen=True)
class EvaluationResult:
    """The outcome of an evaluation.

    Attributes:
        metrics: Headline figures, recorded in the manifest (e.g. accuracy).
        report: A text report for people (tables, confusion matrix).
        files: Report files written under ``report_dir`` (e.g. PNG plots).
    """

    metrics: Mapping[str, float]
    report: str
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A model a plugin provides, yielded by the `kiln_model_specs` hook.

    Attributes:
        name: Model name, unique across all plugins (e.g. ``"digits"``).
        description: One line for people.
        inputs: Input signature, batch axis first.
        outputs: Output signature, batch axis first.
        factory: Builds a `Model` for one version. Must be cheap: heavy work goes in `load`.
        default_artifact: A version directory shipped with the plugin, served when no model
            repository holds the model.
        batch_buckets: Batch sizes to compile, ascending; a batch is padded up to the
            smallest bucket that fits it.
        max_batch_size: Largest batch one request may carry (at most the largest bucket).
        train: Optional training entry point (``kiln train <name>``).
        evaluate: Optional evaluation entry point (``kiln evaluate <name>``).
        config_model: Optional pydantic model class of the training configuration.
        generative: True when the factory's models implement `GenerativeModel`.
    """

    name: str
    description: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    factory: Callable[[LoadContext], Model]
    default_artifact: Path | None = None
    batch_buckets: tuple[int, ...] = (1, 8, 32)
    max_batch_size: int = 32
    train: Callable[[TrainContext], TrainResult] | None = None
    evaluate: Callable[[EvaluateContext], EvaluationResult] | None = None
    config_model: type | None = None
    generative: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise ValueError(f"model name {self.name!r}: use letters, digits, '-', '_', '.'")
        if not self.inputs or not self.outputs:
            raise ValueError(f"model {self.name!r}: needs at least one input and one output")
        for group in (self.inputs, self.outputs):
            names = [t.name for t in group]
            if len(set(names)) != len(names):
                raise ValueError(f"model {self.name!r}: duplicate tensor names {names}")
        buckets = tuple(sorted(set(self.batch_buckets)))
        if not buckets or buckets[0] < 1:
            raise ValueError(f"model {self.name!r}: batch buckets must be positive")
        if not 1 <= self.max_batch_size <= buckets[-1]:
            raise ValueError(
                f"model {self.name!r}: max_batch_size {self.max_batch_size} must be between 1 "
                f"and the largest bucket {buckets[-1]}"
            )
        object.__setattr__(self, "batch_buckets", buckets)
