"""The ceiling: a ``grpc.aio`` server whose handlers do nothing but answer.

It serves kiln.v1 ``Predict`` and OIP ``ModelInfer`` with generic handlers that take the
request bytes and return a pre-built response of exactly the size Kiln answers the same
workload with, so bytes in and out match the real server's. Whatever a Python gRPC server
does per call (HTTP/2, the event loop, one handler call) is in it; no protobuf parsing and
no model. Prints ``listening on 127.0.0.1:<port>`` once bound.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import grpc

from payloads import PREDICT_METHODS, WORKLOADS, predict_request, predict_response


def _handler(responses: dict[bytes, bytes], default: bytes):
    async def answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return responses.get(request, default)

    return grpc.unary_unary_rpc_method_handler(answer)


class EmptyHandlers(grpc.GenericRpcHandler):
    """Answers each workload's request with a same-sized canned response."""

    def __init__(self) -> None:
        self._handlers = {}
        for protocol, method in PREDICT_METHODS.items():
            responses = {}
            for workload in WORKLOADS.values():
                if protocol == "kiln.v1" and workload.parameters:
                    continue
                responses[predict_request(protocol, workload)] = predict_response(
                    protocol, workload
                )
            default = predict_response(protocol, WORKLOADS["digits-b1"])
            self._handlers[method] = _handler(responses, default)

    def service(self, handler_call_details):
        return self._handlers.get(handler_call_details.method)


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM/SIGINT."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers((EmptyHandlers(),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> int:
    """Entry point: ``python bench/empty_server.py [--port 0]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    try:  # the event loop `kiln serve` uses by default, so the ceiling is like for like
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
