"""Domain errors: what went wrong, in Kiln's terms.

This module knows nothing of gRPC. Each error carries a `Kind` (the class of failure), a
machine-readable `reason`, a message for people and, for bad input, the request field at fault.
The gRPC layer maps kinds to status codes in one place (`kiln.server.grpc.status`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

#: Domain of every ErrorInfo Kiln emits.
ERROR_DOMAIN = "kiln.dev"


class Kind(enum.Enum):
    """Class of failure; decides the status code a client sees."""

    NOT_FOUND = "not_found"
    INVALID_ARGUMENT = "invalid_argument"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    CANCELLED = "cancelled"
    UNAUTHENTICATED = "unauthenticated"
    INTERNAL = "internal"


class KilnError(Exception):
    """Base of every domain error.

    Attributes:
        kind: Class of failure.
        reason: Stable UPPER_SNAKE_CASE identifier for machines (ErrorInfo.reason).
        message: What happened and what to do, for people.
        field: Request field at fault (e.g. ``inputs[image].shape``), for bad input.
        metadata: Extra facts for machines (ErrorInfo.metadata).
    """

    kind: Kind = Kind.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.field = field
        self.metadata = dict(metadata or {})


class ModelNotFound(KilnError):
    """No model, or no such version of a model, is known."""

    kind = Kind.NOT_FOUND
    reason = "MODEL_NOT_FOUND"


class ModelNotReady(KilnError):
    """The model exists but cannot serve right now (loading, failed, unloaded)."""

    kind = Kind.UNAVAILABLE
    reason = "MODEL_NOT_READY"


class InvalidInput(KilnError):
    """The request does not fit the model's signature or the server's limits."""

    kind = Kind.INVALID_ARGUMENT
    reason = "INVALID_INPUT"


class Unsupported(KilnError):
    """The model cannot do what was asked (e.g. generation from a classifier)."""

    kind = Kind.FAILED_PRECONDITION
    reason = "UNSUPPORTED_OPERATION"


class Overloaded(KilnError):
    """A bounded queue is full; the client should retry later."""

    kind = Kind.RESOURCE_EXHAUSTED
    reason = "QUEUE_FULL"


class DeadlineExpired(KilnError):
    """The request's deadline passed before its work could start."""

    kind = Kind.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


class ModelFailed(KilnError):
    """The model's own code raised; details stay in the server log."""

    kind = Kind.INTERNAL
    reason = "MODEL_FAILED"


class Unauthenticated(KilnError):
    """The call needs credentials it did not carry (e.g. the admin token)."""

    kind = Kind.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PluginError(Exception):
    """A plugin is broken in a way that must stop the server (e.g. a model name clash)."""
