"""The one-shot listener on this machine that receives the browser after a sign-in."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

from malsync.errors import ConfigError, MalsyncError
from malsync.net.address import check_url

_CLOSE_TAB_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>malsync</title>"
    "<p>{message}</p><p>You can close this tab and go back to malsync.</p>"
)


class LoginError(MalsyncError):
    """The sign-in did not complete; nothing was stored."""


class RedirectListener:
    """A one-shot HTTP listener on the loopback redirect URI; bound before the browser opens."""

    def __init__(self, redirect_uri: str, key: str = "[oauth] redirect_uri") -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        check_url(redirect_uri, key)
        if parts.scheme != "http" or host not in ("127.0.0.1", "localhost"):
            raise ConfigError(
                f"{key} {redirect_uri!r} must be http://127.0.0.1:PORT/... or "
                "http://localhost:PORT/..., where malsync itself can receive the answer"
            )
        self.path = parts.path or "/"
        self.received: str | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                listener.received = self.path
                error = "error=" in urlsplit(self.path).query
                message = "Sign-in was not completed." if error else "malsync is signed in."
                body = _CLOSE_TAB_PAGE.format(message=message).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            self._server = HTTPServer(("127.0.0.1", parts.port or 80), Handler)
        except OSError as error:
            raise LoginError(
                f"cannot listen on {redirect_uri} ({error.strerror}); is another login running?"
            ) from None

    def wait(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        self._server.timeout = 0.5
        try:
            while self.received is None:
                if time.monotonic() > deadline:
                    raise LoginError(
                        f"no answer from the browser within {timeout:g} s; nothing was stored "
                        "(try again, or use --paste)"
                    )
                self._server.handle_request()
        finally:
            self._server.server_close()
        return self.received

    def close(self) -> None:
        self._server.server_close()
