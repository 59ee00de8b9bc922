"""Errors raised by the Kiln SDK, decoded from the server's rich gRPC status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (from google.rpc.BadRequest).

    Attributes:
        field: Path of the field, e.g. ``inputs[image].shape``.
        description: What is wrong with it.
    """

    field: str
    description: str


class KilnError(Exception):
    """A call to the Kiln server failed.

    Attributes:
        code: The gRPC status code.
        message: The server's message for people.
        reason: Machine-readable reason (``ErrorInfo.reason``), e.g. ``MODEL_NOT_FOUND``;
            empty when the server sent none (e.g. a transport failure).
        metadata: ``ErrorInfo.metadata`` (facts such as the model name or a limit).
        field_violations: The offending request fields, for bad input.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = field_violations

    @property
    def field(self) -> str:
        """The first offending field, or ''."""
        return self.field_violations[0].field if self.field_violations else ""

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgumentError(KilnError):
    """The request does not fit the model's signature or the server's limits."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(KilnError):
    """No such model or version."""

    code = grpc.StatusCode.NOT_FOUND


class UnavailableError(KilnError):
    """The model or server cannot serve right now; retrying later may succeed."""

    code = grpc.StatusCode.UNAVAILABLE


class FailedPreconditionError(KilnError):
    """The model cannot do what was asked (e.g. generation from a classifier)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhaustedError(KilnError):
    """A queue or size limit was hit; back off and retry, or send less."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceededError(KilnError):
    """The call's deadline passed."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class CancelledError(KilnError):
    """The call was cancelled."""

    code = grpc.StatusCode.CANCELLED


class UnauthenticatedError(KilnError):
    """Missing or wrong credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED


class InternalError(KilnError):
    """The server or the model failed; the server log has the details."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[KilnError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        UnavailableError,
        FailedPreconditionError,
        ResourceExhaustedError,
        DeadlineExceededError,
        CancelledError,
        UnauthenticatedError,
        InternalError,
    )
}


def error_class(code: grpc.StatusCode) -> type[KilnError]:
    """The `KilnError` subclass for a status code (`KilnError` itself for the rest)."""
    return _BY_CODE.get(code, KilnError)


def from_rpc_error(err: grpc.RpcError) -> KilnError:
    """Decode a failed call into the matching `KilnError` subclass."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = err.details() if hasattr(err, "details") else str(err)
    reason, metadata, violations = "", {}, []
    status = _status_from_trailers(err)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return error_class(code)(
        message or "",
        code=code,
        reason=reason,
        metadata=metadata,
        field_violations=tuple(violations),
    )


def _status_from_trailers(err: grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status in the trailers (works for sync and asyncio errors)."""
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == _STATUS_DETAILS_KEY:
            return status_pb2.Status.FromString(value)
    return None


def from_stream_error(error) -> KilnError:
    """Decode an in-stream `kiln.v1.Error` into the matching `KilnError` subclass."""
    code = next((c for c in grpc.StatusCode if c.value[0] == error.code), grpc.StatusCode.UNKNOWN)
    violations = (FieldViolation(error.field, error.message),) if error.field else ()
    return error_class(code)(
        error.message,
        code=code,
        reason=error.reason,
        metadata=dict(error.metadata),
        field_violations=violations,
    )
