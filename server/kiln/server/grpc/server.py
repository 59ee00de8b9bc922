"""Builds and runs the grpc.aio server: kiln.v1, health, reflection, limits, TLS."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kiln.oip.v2 import grpc_service_pb2, grpc_service_pb2_grpc
from kiln.server import jax_runtime
from kiln.server.discovery import Catalog, discover
from kiln.server.engine import Engine
from kiln.server.grpc.kiln_v1 import InferenceServicer, ModelServicer
from kiln.server.grpc.oip import OpenInferenceServicer
from kiln.server.registry import ModelRegistry
from kiln.server.settings import KilnSettings
from kiln.v1 import (
    inference_service_pb2,
    inference_service_pb2_grpc,
    model_service_pb2,
    model_service_pb2_grpc,
)

log = logging.getLogger(__name__)

#: Services whose health follows the server's readiness ("" is the whole server).
HEALTH_SERVICES = (
    health.OVERALL_HEALTH,
    inference_service_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name,
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name,
)


def server_options(settings: KilnSettings) -> list[tuple[str, int]]:
    """Channel arguments for the server: message limits and connection management."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


def new_event_loop(settings: KilnSettings) -> asyncio.AbstractEventLoop:
    """A fresh event loop of the kind `settings.event_loop` asks for.

    uvloop halves what the event loop itself costs per call; it is not available on
    Windows, where the standard loop is used instead.
    """
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed; serving on the asyncio event loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _credentials(settings: KilnSettings) -> grpc.ServerCredentials | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


@dataclass
class KilnServer:
    """A running Kiln server.

    Attributes:
        port: The port actually bound (useful with port 0).
        engine: The inference engine (and through it the registry).
        health: The health servicer.
        serving: Whether health reports SERVING (what OIP ServerReady answers).
    """

    settings: KilnSettings
    server: grpc.aio.Server
    port: int
    engine: Engine
    health: health.aio.HealthServicer
    serving: bool = False

    @property
    def address(self) -> str:
        """``host:port`` clients can dial."""
        return f"{self.settings.host}:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for the whole server and each service."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        self.serving = serving
        for name in HEALTH_SERVICES:
            await self.health.set(name, status)

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, let in-flight calls finish within `grace`, unload models."""
        self.serving = False
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.settings.grace_period_s if grace is None else grace)
        await self.engine.registry.close()


async def start_server(settings: KilnSettings, catalog: Catalog | None = None) -> KilnServer:
    """Start serving on `settings.host:port`, then load every model.

    Health reports NOT_SERVING until loading has finished (every bucket compiled).
    """
    jax_runtime.install_compile_counter()
    jax_runtime.dispatch_synchronously()
    if settings.compile_cache_dir is not None:
        jax_runtime.enable_compilation_cache(settings.compile_cache_dir)
    catalog = catalog or discover(block=settings.block_plugins)
    registry = ModelRegistry(catalog, settings)
    engine = Engine(registry, settings)
    server = grpc.aio.server(options=server_options(settings))
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(engine), server)
    inference_service_pb2_grpc.add_InferenceServiceServicer_to_server(
        InferenceServicer(engine), server
    )
    grpc_service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        OpenInferenceServicer(engine, settings, is_ready=lambda: kiln.serving), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        names = [*HEALTH_SERVICES[1:], health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, server)
    address = f"{settings.host}:{settings.port}"
    credentials = _credentials(settings)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    kiln = KilnServer(settings, server, port, engine, health_servicer)
    await kiln.set_serving(False)
    await server.start()
    log.info(
        "kiln listening on %s:%d (%s)", settings.host, port, "TLS" if credentials else "plaintext"
    )
    await registry.load_all()
    await kiln.set_serving(True)
    log.info("kiln serving %d model(s) on %s:%d", len(registry.entries()), settings.host, port)
    return kiln


async def serve_forever(settings: KilnSettings) -> None:
    """Run until SIGTERM/SIGINT, then drain gracefully and return."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    kiln = await start_server(settings)
    log.info("event loop: %s", type(loop).__module__.split(".")[0])
    await stop.wait()
    log.info("shutting down: draining in-flight calls for up to %.0fs", settings.grace_period_s)
    await kiln.stop()
