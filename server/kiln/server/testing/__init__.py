"""Helpers for testing Kiln plugins and servers: a real server on a free port, in-process.

    from kiln.server.testing import running_server

    with running_server(plugins=[("mine", my_plugin_module)]) as server:
        with Client(server.address) as client:
            ...

`running_server` runs the gRPC server on its own event loop in a background thread, so
blocking clients, asyncio clients and subprocesses can all talk to it. `check_model` checks a
model against its own spec (signature, buckets, generation) without any server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kiln.server.discovery import discover
from kiln.server.grpc.server import KilnServer, new_event_loop, start_server
from kiln.server.settings import KilnSettings
from kiln.server.testing.contract import check_model

__all__ = ["ServerHandle", "check_model", "running_server"]


@dataclass
class ServerHandle:
    """A server started by `running_server`.

    Attributes:
        address: ``127.0.0.1:<port>`` to dial.
        server: The running server (registry and engine reachable through it).
        loop: The event loop the server runs on.
    """

    address: str
    server: KilnServer
    loop: asyncio.AbstractEventLoop

    def call(self, coroutine):
        """Run a coroutine on the server's loop and return its result (e.g. registry calls)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


@contextlib.contextmanager
def running_server(
    settings: KilnSettings | None = None,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
    block: Iterable[str] = (),
) -> Iterator[ServerHandle]:
    """Start a real Kiln server on 127.0.0.1 port 0; stop it on exit.

    Args:
        settings: Server settings (host and port are forced to loopback and 0).
        plugins: Extra ``(name, plugin)`` pairs to register, e.g. a test's own plugin.
        entry_points: Also load installed plugins (False serves only `plugins`).
        block: Installed plugins to skip.
    """
    settings = (settings or KilnSettings()).model_copy(update={"host": "127.0.0.1", "port": 0})
    if entry_points:
        catalog = discover(block=[*settings.block_plugins, *block], extra_plugins=plugins)
    else:
        catalog = discover(block=_all_entry_point_names(), extra_plugins=plugins)
    loop = new_event_loop(settings)
    thread = threading.Thread(target=loop.run_forever, name="kiln-test-server", daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start_server(settings, catalog), loop).result()
    try:
        yield ServerHandle(server.address, server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=1.0), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def _all_entry_point_names() -> list[str]:
    import importlib.metadata

    from kiln.server.plugin import PROJECT_NAME

    return [ep.name for ep in importlib.metadata.entry_points(group=PROJECT_NAME)]
