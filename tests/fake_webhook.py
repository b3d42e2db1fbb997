"""A webhook receiver on 127.0.0.1 for Apprise's json:// URLs: it keeps every message it gets
and answers with `status` (500 to play a receiver that is down)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.loopback_server import LoopbackServer, QuietHandler


@dataclass
class Message:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: str  # exactly what arrived, to look for secrets in


@dataclass
class WebhookReceiver(LoopbackServer):
    status: int = 200
    messages: list[Message] = field(default_factory=list)

    def url(self, path: str = "/hook", credentials: str = "") -> str:
        """The Apprise URL of this receiver: json://[user:password@]127.0.0.1:PORT/path."""
        host = self.root.removeprefix("http://")
        return f"json://{credentials + '@' if credentials else ''}{host}{path}"


class _Handler(QuietHandler):
    server_fake: WebhookReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        receiver = self.server_fake
        headers = dict(self.headers.items())
        receiver.messages.append(Message(self.path, headers, json.loads(raw), raw))
        self.send_response(receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


WebhookReceiver.handler_class = _Handler
