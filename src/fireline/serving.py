"""Run an ASGI app with uvicorn in a background thread (the demo, drills and tests use it)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn's server, noticing a stop within 10 ms instead of its 100 ms tick (the tests, drills
    and the demo start and stop hundreds of servers); on_tick still runs every 100 ms."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            for _ in range(10):
                await asyncio.sleep(0.01)
                if self.should_exit:
                    break
            counter = (counter + 1) % 864000
            should_exit = await self.on_tick(counter)


class ServerThread:
    """Serves `app` on 127.0.0.1 until stopped; lifespan (migrations, loops) included."""

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        # Without a port, the listening socket is bound here and handed to uvicorn, so no other
        # process can take the port between choosing it and serving on it (`free_port` then a
        # bind would race: seen as "address already in use" with two test workers).
        self._socket: socket.socket | None = None
        if port is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # as uvicorn's own bind: a server started again on this port is not refused for the
            # closed connections of this one still in TIME_WAIT
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, 0))
            port = int(self._socket.getsockname()[1])
        self.port = port
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on",
                                access_log=False)
        self.server = _Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"fireline-{self.port}",
                                       kwargs={"sockets": [self._socket]} if self._socket is not None else {})

    def start(self, timeout: float = 30.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server thread died during startup")
            if time.monotonic() > deadline:
                self.stop()  # a start that is late must not go on to serve (and lead) unwatched
                raise RuntimeError(f"server did not start within {timeout:.0f} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)
        if self._socket is not None and not self.thread.is_alive():
            self._socket.close()  # uvicorn closed its server; a start that failed left the socket to us
        if self.thread.is_alive():
            logging.getLogger("fireline").warning(
                "the server on port %d did not stop within %.0f s; its thread goes on", self.port, timeout)
