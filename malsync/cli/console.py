"""The terminal the CLI talks to, passed in so that tests can be a person at a keyboard."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from malsync.redaction import redact


@dataclass
class Console:
    """Standard streams and the questions asked on them; everything shown is redacted."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def interactive(self) -> bool:
        """Whether a person can answer: a terminal on standard input."""
        return _isatty(self.stdin)

    def shows_progress(self) -> bool:
        return _isatty(self.stderr)

    def emit(self, lines: Sequence[str], *, redacted: bool = True) -> None:
        """Lines for the person at the terminal (standard error: stdout is for data)."""
        for line in lines:
            print(redact(line) if redacted else line, file=self.stderr)

    def out(self, lines: Sequence[str]) -> None:
        """Lines that are the command's result, for scripts as much as people."""
        for line in lines:
            print(redact(line), file=self.stdout)

    def ask(self, question: str, listing: Sequence[str] = ()) -> bool:
        """A yes/no question; without a terminal the answer is no (cron passes --yes)."""
        if not self.interactive():
            self.emit([f"malsync: {question} Not asked: no terminal; --yes confirms."])
            return False
        self.emit(listing)
        print(f"{question} [y/N] ", end="", file=self.stderr, flush=True)
        answer = ""
        try:
            answer = self.stdin.readline()
        finally:
            # No Enter typed (Ctrl-D, Ctrl-C, a SIGTERM): what follows gets a line of its own.
            if not answer.endswith("\n"):
                print(file=self.stderr, flush=True)
        return answer.strip().lower() in ("y", "yes")

    def read_line(self, prompt: str) -> str:
        print(prompt, file=self.stderr, flush=True)
        return self.stdin.readline()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
