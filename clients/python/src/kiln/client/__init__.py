"""The Kiln Python SDK.

    >>> from kiln.client import Client
    >>> with Client("localhost:50051") as client:
    ...     labels = client.predict("digits", {"image": images})["label"]

`Client` blocks; `AsyncClient` is its asyncio twin. Failures raise `KilnError` subclasses
carrying the status code, the machine-readable ``reason`` and the offending ``field``.
"""

from kiln.client._client import AsyncClient, Client, GenerateStream
from kiln.client.errors import (
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    KilnError,
    NotFoundError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from kiln.client.tensors import from_tensor, to_tensor
from kiln.client.types import GenerateChunk, ModelInfo, StreamResult, TensorInfo, VersionInfo

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "CancelledError",
    "Client",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "GenerateChunk",
    "GenerateStream",
    "InternalError",
    "InvalidArgumentError",
    "KilnError",
    "ModelInfo",
    "NotFoundError",
    "ResourceExhaustedError",
    "StreamResult",
    "TensorInfo",
    "UnauthenticatedError",
    "UnavailableError",
    "VersionInfo",
    "from_tensor",
    "to_tensor",
]
