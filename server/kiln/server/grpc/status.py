"""The one mapping from domain errors to gRPC statuses (google.rpc.Status + ErrorInfo)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from kiln.server.errors import ERROR_DOMAIN, KilnError, Kind
from kiln.v1 import inference_service_pb2

log = logging.getLogger(__name__)

#: Domain error kind -> gRPC status code.
STATUS_CODES: dict[Kind, grpc.StatusCode] = {
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Kind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    Kind.CANCELLED: grpc.StatusCode.CANCELLED,
    Kind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Kind.INTERNAL: grpc.StatusCode.INTERNAL,
}

#: What a client sees for an unexpected exception; the traceback stays in the log.
INTERNAL_MESSAGE = "internal error; the server log has the details"


def status_code(err: KilnError) -> grpc.StatusCode:
    """The gRPC code for a domain error."""
    return STATUS_CODES[err.kind]


def to_status(err: KilnError) -> grpc.Status:
    """A rich status: code, message, ErrorInfo and (for bad input) BadRequest."""
    code = status_code(err)
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=err.reason, domain=ERROR_DOMAIN, metadata=err.metadata
            )
        )
    ]
    if err.field:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=err.field, description=err.message, reason=err.reason
        )
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[violation])))
    proto = status_pb2.Status(code=code.value[0], message=err.message, details=details)
    return rpc_status.to_status(proto)


def internal_status() -> grpc.Status:
    """The status for an unexpected exception."""
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)
    proto = status_pb2.Status(
        code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE, details=[_pack(info)]
    )
    return rpc_status.to_status(proto)


def to_stream_error(err: Exception) -> inference_service_pb2.Error:
    """The in-stream form of an error (one failed item of a stream)."""
    if not isinstance(err, KilnError):
        return inference_service_pb2.Error(
            code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE, reason="INTERNAL"
        )
    return inference_service_pb2.Error(
        code=status_code(err).value[0],
        message=err.message,
        reason=err.reason,
        metadata=err.metadata,
        field=err.field or "",
    )


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def translate_errors(method: Callable) -> Callable:
    """Decorate an async servicer method so domain errors become rich statuses.

    Unknown exceptions are logged with their traceback and become INTERNAL with a generic
    message; the server goes on serving.
    """
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except Exception as err:
                await _abort(context, method.__name__, err)

        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except Exception as err:
            await _abort(context, method.__name__, err)

    return unary_wrapper


async def _abort(context: grpc.aio.ServicerContext, rpc: str, err: Exception) -> None:
    if isinstance(err, grpc.aio.AbortError):
        raise err
    if isinstance(err, KilnError):
        await context.abort_with_status(to_status(err))
    log.error("%s failed unexpectedly", rpc, exc_info=err)
    await context.abort_with_status(internal_status())
