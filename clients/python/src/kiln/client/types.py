"""Plain Python views of what the server returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kiln.client.errors import KilnError
from kiln.client.tensors import DTYPES
from kiln.v1 import model_service_pb2, tensor_pb2


@dataclass(frozen=True)
class TensorInfo:
    """An input or output of a model.

    Attributes:
        name: Tensor name.
        dtype: numpy dtype name (``"float32"``, ``"int64"``, ...).
        shape: Dimensions, batch axis first; -1 marks a free dimension.
        description: What it means.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    description: str = ""

    @classmethod
    def from_proto(cls, message: tensor_pb2.TensorSignature) -> TensorInfo:
        """Build from a `kiln.v1.TensorSignature`."""
        return cls(
            message.name, DTYPES[message.dtype].name, tuple(message.shape), message.description
        )


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model.

    Attributes:
        version: Version label (a positive integer as a string).
        state: ``"READY"``, ``"LOADING"``, ``"UNLOADING"``, ``"UNAVAILABLE"`` or ``"FAILED"``.
        reason: Why it is not READY, when it is not.
    """

    version: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """A model served by the server.

    Attributes:
        name: Model name.
        description: One line from the plugin.
        plugin: Distribution of the plugin providing it.
        versions: Versions, newest first.
        inputs: Input signature.
        outputs: Output signature.
        max_batch_size: Largest batch per request.
        capabilities: ``"predict"`` and/or ``"generate"``.
    """

    name: str
    description: str
    plugin: str
    versions: tuple[VersionInfo, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    max_batch_size: int
    capabilities: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """True when some version is READY."""
        return any(v.state == "READY" for v in self.versions)

    @classmethod
    def from_proto(cls, message: model_service_pb2.Model) -> ModelInfo:
        """Build from a `kiln.v1.Model`."""
        state_name = model_service_pb2.ModelState.Name
        capability_name = model_service_pb2.Capability.Name
        return cls(
            name=message.name,
            description=message.description,
            plugin=message.plugin,
            versions=tuple(
                VersionInfo(v.version, state_name(v.state).removeprefix("MODEL_STATE_"), v.reason)
                for v in message.versions
            ),
            inputs=tuple(TensorInfo.from_proto(t) for t in message.inputs),
            outputs=tuple(TensorInfo.from_proto(t) for t in message.outputs),
            max_batch_size=message.max_batch_size,
            capabilities=tuple(
                capability_name(c).removeprefix("CAPABILITY_").lower() for c in message.capabilities
            ),
        )


@dataclass(frozen=True)
class GenerateChunk:
    """One streamed chunk of generated samples.

    Attributes:
        index: Position of the chunk in the stream, from 0.
        samples: The chunk's samples, batch axis first (None unless tensors were asked for).
        png: One PNG image per sample (empty unless PNGs were asked for).
        done: Samples produced so far, this chunk included.
        total: Samples asked for.
    """

    index: int
    samples: np.ndarray | None
    png: tuple[bytes, ...]
    done: int
    total: int


@dataclass(frozen=True)
class StreamResult:
    """The answer to one request of `Client.stream_predict`.

    Attributes:
        request_id: The id the request was sent with.
        outputs: Output arrays by name, or None when the request failed.
        error: Why the request failed, or None.
    """

    request_id: str
    outputs: dict[str, np.ndarray] | None = None
    error: KilnError | None = field(default=None)
