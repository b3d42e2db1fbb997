"""What every fake server shares: a handler class served on 127.0.0.1 in a thread of its own."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive, one write per answer and no Nagle delay (otherwise every keep-alive request
    stalls for the 40 ms delayed ACK, and the fake, not the client, sets the pace); no logging."""

    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """Start and stop (also as a context manager) a server for `handler_class`, whose handlers
    reach this object as `server_fake`."""

    handler_class: type[BaseHTTPRequestHandler]
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (self.handler_class,), {"server_fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT, the server's own address."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"
