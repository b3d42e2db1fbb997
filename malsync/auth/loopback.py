"""The listener on this machine that receives the browser after a sign-in.

Any local process can connect to it. So each connection is served on its own thread with a
timeout (a browser's idle pre-connection, or a silent one, holds up nothing), and only an answer
that carries this sign-in's state ends the wait: a forged one is told it does not belong and the
listener goes on until the real answer or the timeout.
"""

from __future__ import annotations

import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from malsync.auth.oauth import LoginError
from malsync.errors import ConfigError
from malsync.net.address import check_url

_CLOSE_TAB_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>malsync</title>"
    "<p>{message}</p><p>You can close this tab and go back to malsync.</p>"
)
_NOT_THIS_SIGN_IN_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>malsync</title>"
    "<p>This answer does not belong to this sign-in (its state differs); it was ignored and "
    "malsync is still waiting for the browser.</p>"
)
# How long one connection may take to send its request: a browser sends it at once.
CONNECTION_TIMEOUT_SECONDS = 5.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a connection left hanging must not keep malsync alive
    block_on_close = False


class RedirectListener:
    """An HTTP listener on the loopback redirect URI; bound before the browser opens."""

    def __init__(self, redirect_uri: str, key: str, state: str) -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        check_url(redirect_uri, key)
        if parts.scheme != "http" or host not in ("127.0.0.1", "localhost"):
            raise ConfigError(
                f"{key} {redirect_uri!r} must be http://127.0.0.1:PORT/... or "
                "http://localhost:PORT/..., where malsync itself can receive the answer"
            )
        self.path = parts.path or "/"
        self._state = state
        self.received: str | None = None
        self._answered = threading.Event()
        self._first = threading.Lock()
        try:
            self._server = _Server(("127.0.0.1", parts.port or 80), self._handler())
        except OSError as error:
            raise LoginError(
                f"cannot listen on {redirect_uri} ({error.strerror}); is another login running?"
            ) from None

    def belongs(self, query: str) -> bool:
        """Whether an answer carries this sign-in's state (compared in constant time)."""
        states = parse_qs(query).get("state", [""])
        return bool(self._state) and hmac.compare_digest(states[0].encode(), self._state.encode())

    def _answer(self, path: str) -> None:
        """The first answer of this sign-in is the one; after the page, so the browser has it."""
        with self._first:
            if not self._answered.is_set():
                self.received = path
                self._answered.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CONNECTION_TIMEOUT_SECONDS

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != listener.path:
                    self.send_error(404)
                    return
                if not listener.belongs(parts.query):
                    self._page(400, _NOT_THIS_SIGN_IN_PAGE)
                    return
                error = "error" in parse_qs(parts.query)
                message = "Sign-in was not completed." if error else "malsync is signed in."
                self._page(200, _CLOSE_TAB_PAGE.format(message=message))
                listener._answer(self.path)

            def _page(self, status: int, page: str) -> None:
                body = page.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def wait(self, timeout: float) -> str:
        """The address the browser came back with; LoginError when none came in `timeout`."""
        deadline = time.monotonic() + timeout
        self._server.timeout = 0.2
        try:
            while not self._answered.is_set():
                if time.monotonic() > deadline:
                    raise LoginError(
                        f"no answer from the browser within {timeout:g} s; nothing was stored "
                        "(try again, or use --paste)"
                    )
                self._server.handle_request()  # accepts at most one connection, served apart
        finally:
            self._server.server_close()
        assert self.received is not None
        return self.received

    def close(self) -> None:
        self._server.server_close()
