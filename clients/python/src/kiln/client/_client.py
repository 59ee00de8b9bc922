"""`Client` (blocking) and `AsyncClient` (asyncio) for the Kiln server."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence

import grpc
import numpy as np

from kiln.client.errors import InternalError, KilnError, from_rpc_error, from_stream_error
from kiln.client.tensors import from_tensor, to_tensor
from kiln.client.types import GenerateChunk, ModelInfo, StreamResult
from kiln.v1 import (
    inference_service_pb2 as inference_pb2,
)
from kiln.v1 import (
    inference_service_pb2_grpc as inference_grpc,
)
from kiln.v1 import (
    model_service_pb2 as model_pb2,
)
from kiln.v1 import (
    model_service_pb2_grpc as model_grpc,
)

#: Largest message the client sends or accepts (the server has its own limit).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024

_ENCODINGS = {
    "tensor": inference_pb2.SAMPLE_ENCODING_TENSOR,
    "png": inference_pb2.SAMPLE_ENCODING_PNG,
}

Inputs = Mapping[str, np.ndarray]


def _credentials(
    root_certificates: bytes | None, private_key: bytes | None, certificate_chain: bytes | None
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)


def _channel_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]


def _predict_request(
    model: str, inputs: Inputs, version: str, outputs: Sequence[str]
) -> inference_pb2.PredictRequest:
    return inference_pb2.PredictRequest(
        model=model,
        version=version,
        inputs={name: to_tensor(array) for name, array in inputs.items()},
        output_filter=list(outputs),
    )


def _outputs(response: inference_pb2.PredictResponse) -> dict[str, np.ndarray]:
    return {name: from_tensor(tensor) for name, tensor in response.outputs.items()}


def _generate_request(
    model: str, count: int, seed: int, chunk_size: int, encodings: Sequence[str], version: str
) -> inference_pb2.GenerateRequest:
    unknown = set(encodings) - set(_ENCODINGS)
    if unknown:
        raise ValueError(f"unknown encodings {sorted(unknown)}; use 'tensor' and/or 'png'")
    return inference_pb2.GenerateRequest(
        model=model,
        version=version,
        count=count,
        seed=seed,
        chunk_size=chunk_size,
        encodings=[_ENCODINGS[e] for e in encodings],
    )


def _chunk(response: inference_pb2.GenerateResponse) -> GenerateChunk:
    return GenerateChunk(
        index=response.chunk_index,
        samples=from_tensor(response.samples) if response.HasField("samples") else None,
        png=tuple(response.png),
        done=response.samples_done,
        total=response.samples_total,
    )


def _stream_result(response: inference_pb2.StreamPredictResponse) -> StreamResult:
    if response.HasField("error"):
        return StreamResult(response.request_id, error=from_stream_error(response.error))
    return StreamResult(response.request_id, outputs=_outputs(response.response))


class _Base:
    def __init__(self, token: str | None, timeout: float | None) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout

    def _deadline(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout


class GenerateStream(Iterator[GenerateChunk]):
    """Chunks of a `Client.generate` call as they arrive; `cancel()` stops the server's work."""

    def __init__(self, call) -> None:
        self._call = call

    def __iter__(self) -> GenerateStream:
        return self

    def __next__(self) -> GenerateChunk:
        try:
            return _chunk(next(self._call))
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def cancel(self) -> None:
        """Cancel the call; the server stops generating."""
        self._call.cancel()


class Client(_Base):
    """A blocking client for a Kiln server.

    Args:
        target: ``host:port`` of the server.
        tls: Use TLS (implied by any certificate argument).
        root_certificates: PEM CA bundle to trust (default: the system's).
        private_key: PEM client key, for mutual TLS.
        certificate_chain: PEM client certificate chain, for mutual TLS.
        token: Bearer token sent with every call (``authorization`` metadata).
        timeout: Default deadline of each call in seconds (None = no deadline).

    Example::

        with Client("localhost:50051") as client:
            outputs = client.predict("digits", {"image": images})
    """

    def __init__(
        self,
        target: str = "localhost:50051",
        *,
        tls: bool = False,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        super().__init__(token, timeout)
        if tls or root_certificates or certificate_chain:
            creds = _credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, creds, options=_channel_options())
        else:
            self._channel = grpc.insecure_channel(target, options=_channel_options())
        self._models = model_grpc.ModelServiceStub(self._channel)
        self._inference = inference_grpc.InferenceServiceStub(self._channel)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method, request, timeout: float | None):
        try:
            return method(request, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def list_models(self, *, timeout: float | None = None) -> list[ModelInfo]:
        """Every model on the server, sorted by name."""
        response = self._call(self._models.ListModels, model_pb2.ListModelsRequest(), timeout)
        return [ModelInfo.from_proto(m) for m in response.models]

    def get_model(self, name: str, *, timeout: float | None = None) -> ModelInfo:
        """One model; raises `NotFoundError` (reason MODEL_NOT_FOUND) if unknown."""
        request = model_pb2.GetModelRequest(name=name)
        return ModelInfo.from_proto(self._call(self._models.GetModel, request, timeout).model)

    def predict(
        self,
        model: str,
        inputs: Inputs,
        *,
        version: str = "",
        outputs: Sequence[str] = (),
        timeout: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Run one batch through `model`.

        Args:
            model: Model name.
            inputs: One array per model input, batch axis first.
            version: Version to use ('' = newest ready).
            outputs: Output names to return ('' = all).
            timeout: Deadline in seconds for this call.

        Returns:
            Output arrays by name (read-only views of the response bytes).

        Raises:
            KilnError: A subclass per status code, with ``reason`` and ``field``.
        """
        request = _predict_request(model, inputs, version, outputs)
        return _outputs(self._call(self._inference.Predict, request, timeout))

    def generate(
        self,
        model: str,
        count: int,
        *,
        seed: int = 0,
        chunk_size: int = 0,
        encodings: Sequence[str] = ("tensor",),
        version: str = "",
        timeout: float | None = None,
    ) -> GenerateStream:
        """Stream `count` samples from a generative model, chunk by chunk.

        Args:
            seed: Equal seeds give equal samples, whatever the chunk size.
            chunk_size: Samples per chunk (0 = server's choice).
            encodings: ``"tensor"`` and/or ``"png"``.

        Returns:
            An iterator of `GenerateChunk`; call its ``cancel()`` to stop early.
        """
        request = _generate_request(model, count, seed, chunk_size, encodings, version)
        call = self._inference.Generate(
            request, timeout=self._deadline(timeout), metadata=self._metadata
        )
        return GenerateStream(call)

    def stream_predict(
        self,
        model: str,
        batches: Iterable[Inputs],
        *,
        version: str = "",
        timeout: float | None = None,
    ) -> Iterator[StreamResult]:
        """Send many batches over one stream; yield their results in the order sent.

        A failed batch yields a `StreamResult` with ``error`` set; the rest go on. If the
        stream ends with a batch unanswered, `InternalError` is raised after the results
        that did arrive in order.
        """
        sent: list[str] = []

        def requests() -> Iterator[inference_pb2.StreamPredictRequest]:
            for index, inputs in enumerate(batches):
                request_id = str(index)
                sent.append(request_id)
                yield inference_pb2.StreamPredictRequest(
                    request_id=request_id,
                    request=_predict_request(model, inputs, version, ()),
                )

        call = self._inference.StreamPredict(
            requests(), timeout=self._deadline(timeout), metadata=self._metadata
        )
        in_order = _InOrder(sent)
        try:
            for response in call:
                yield from in_order.add(response)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        in_order.finish()


class _InOrder:
    """Puts StreamPredict answers back in the order their requests were sent.

    Args:
        sent: The request ids in send order; the sender appends to it as it goes.
    """

    def __init__(self, sent: list[str]) -> None:
        self._sent = sent
        self._waiting: dict[str, StreamResult] = {}
        self._position = 0

    def add(self, response: inference_pb2.StreamPredictResponse) -> list[StreamResult]:
        """Take one answer; return the results that are now next in send order."""
        self._waiting[response.request_id] = _stream_result(response)
        ready = []
        while self._position < len(self._sent) and self._sent[self._position] in self._waiting:
            ready.append(self._waiting.pop(self._sent[self._position]))
            self._position += 1
        return ready

    def finish(self) -> None:
        """The stream ended: raise `InternalError` if a request went unanswered."""
        missing = len(self._sent) - self._position
        if missing:
            raise InternalError(
                f"the stream ended without an answer to request {self._sent[self._position]!r} "
                f"({missing} of {len(self._sent)} unanswered)"
            )


class AsyncClient(_Base):
    """An asyncio client for a Kiln server; same arguments and methods as `Client`."""

    def __init__(
        self,
        target: str = "localhost:50051",
        *,
        tls: bool = False,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        super().__init__(token, timeout)
        if tls or root_certificates or certificate_chain:
            creds = _credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.aio.secure_channel(target, creds, options=_channel_options())
        else:
            self._channel = grpc.aio.insecure_channel(target, options=_channel_options())
        self._models = model_grpc.ModelServiceStub(self._channel)
        self._inference = inference_grpc.InferenceServiceStub(self._channel)

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method, request, timeout: float | None):
        try:
            return await method(request, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def list_models(self, *, timeout: float | None = None) -> list[ModelInfo]:
        """Every model on the server, sorted by name."""
        response = await self._call(self._models.ListModels, model_pb2.ListModelsRequest(), timeout)
        return [ModelInfo.from_proto(m) for m in response.models]

    async def get_model(self, name: str, *, timeout: float | None = None) -> ModelInfo:
        """One model; raises `NotFoundError` (reason MODEL_NOT_FOUND) if unknown."""
        request = model_pb2.GetModelRequest(name=name)
        response = await self._call(self._models.GetModel, request, timeout)
        return ModelInfo.from_proto(response.model)

    async def predict(
        self,
        model: str,
        inputs: Inputs,
        *,
        version: str = "",
        outputs: Sequence[str] = (),
        timeout: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Run one batch through `model` (see `Client.predict`)."""
        request = _predict_request(model, inputs, version, outputs)
        return _outputs(await self._call(self._inference.Predict, request, timeout))

    async def generate(
        self,
        model: str,
        count: int,
        *,
        seed: int = 0,
        chunk_size: int = 0,
        encodings: Sequence[str] = ("tensor",),
        version: str = "",
        timeout: float | None = None,
    ) -> AsyncIterator[GenerateChunk]:
        """Stream samples chunk by chunk (see `Client.generate`).

        Leaving the ``async for`` early cancels the call and the server's work.
        """
        request = _generate_request(model, count, seed, chunk_size, encodings, version)
        call = self._inference.Generate(
            request, timeout=self._deadline(timeout), metadata=self._metadata
        )
        try:
            async for response in call:
                yield _chunk(response)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    async def stream_predict(
        self,
        model: str,
        batches: Iterable[Inputs] | AsyncIterable[Inputs],
        *,
        version: str = "",
        timeout: float | None = None,
    ) -> AsyncIterator[StreamResult]:
        """Send many batches over one stream; yield results in the order sent."""
        sent: list[str] = []

        async def requests() -> AsyncIterator[inference_pb2.StreamPredictRequest]:
            index = 0
            async for inputs in _aiter(batches):
                request_id = str(index)
                index += 1
                sent.append(request_id)
                yield inference_pb2.StreamPredictRequest(
                    request_id=request_id, request=_predict_request(model, inputs, version, ())
                )

        call = self._inference.StreamPredict(
            requests(), timeout=self._deadline(timeout), metadata=self._metadata
        )
        in_order = _InOrder(sent)
        try:
            async for response in call:
                for result in in_order.add(response):
                    yield result
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        in_order.finish()


async def _aiter(items: Iterable | AsyncIterable) -> AsyncIterator:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


__all__ = ["AsyncClient", "Client", "GenerateStream", "KilnError"]
