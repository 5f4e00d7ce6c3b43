"""Showing long image builds: a short live line for people, the full output in a log file.

debootstrap and ``docker build`` print thousands of lines. A person wants to see that something moves
(a spinner and the latest line); when a step fails they need its last lines, and the rest belongs in a
log file. ``StepLog`` does all three for one step; a ``BuildReporter`` decides how it is shown.
"""

from __future__ import annotations

import re
import subprocess
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from rich.console import Console
from rich.markup import escape

from harness.errors import ImageBuildError

TAIL_LINES = 15
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # docker build colours pip's errors
SHOWN_WIDTH = 100


class BuildReporter(Protocol):
    """Where build progress goes: a step's title when it starts, then each output line."""

    def step(self, title: str) -> None: ...

    def line(self, text: str) -> None: ...


class NoteReporter:
    """Reports step titles through a one-line ``note`` callback and drops output lines.

    For use inside a run, whose own live display must not be disturbed by a second one.
    """

    def __init__(self, note: Callable[[str], None]) -> None:
        self._note = note

    def step(self, title: str) -> None:
        self._note(title)

    def line(self, text: str) -> None:
        pass


class RichBuildDisplay:
    """A rich spinner showing the current step and its latest output line (``harness image build``)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._title = ""
        self._status = console.status("", spinner="dots")

    def __enter__(self) -> RichBuildDisplay:
        self._status.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._status.stop()

    def step(self, title: str) -> None:
        self._title = title
        self._console.print(f"[dim]{escape(title)}[/dim]", highlight=False)
        self._status.update(escape(title))

    def line(self, text: str) -> None:
        shown = text.strip()[:SHOWN_WIDTH]
        self._status.update(f"{escape(self._title)}\n  [dim]{escape(shown)}[/dim]")


class StepLog:
    """One build step: every line goes to the log file and the reporter, the last ones are kept."""

    def __init__(self, title: str, log_path: Path, reporter: BuildReporter) -> None:
        self.title = title
        self.log_path = log_path
        self._reporter = reporter
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._file: IO[str] | None = None

    def __enter__(self) -> StepLog:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.log_path.open("a", encoding="utf-8")
        self._file.write(f"--- {self.title}\n")
        self._reporter.step(self.title)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def line(self, text: str) -> None:
        text = ANSI_ESCAPE.sub("", text.rstrip("\n"))
        if self._file is not None:
            self._file.write(text + "\n")
            self._file.flush()
        if text.strip():
            self._tail.append(text)
            self._reporter.line(text)

    def fail(self, problem: str) -> ImageBuildError:
        """The error to raise for this step: what went wrong, its last lines, where the rest is."""
        tail = "\n".join(f"  {line}" for line in self._tail) or "  (no output)"
        return ImageBuildError(f"{self.title}: {problem} (full log {self.log_path}); last lines:\n{tail}")


def run_logged(command: Sequence[str], step: StepLog, *, stdin: IO[bytes] | None = None) -> None:
    """Run a command, streaming its merged output into ``step``; a non-zero exit raises its error."""
    with _popen(command, stdin) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            step.line(raw.decode(errors="replace"))
        status = process.wait()
    if status != 0:
        raise step.fail(f"{command[0]} exited with status {status}")


@contextmanager
def _popen(command: Sequence[str], stdin: IO[bytes] | None) -> Iterator[subprocess.Popen[bytes]]:
    try:
        process = subprocess.Popen(
            list(command), stdin=stdin or subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    except OSError as error:
        raise ImageBuildError(f"cannot run {command[0]}: {error}") from None
    try:
        yield process
    finally:
        if process.poll() is None:  # interrupted: do not leave a half-done debootstrap running
            process.kill()
            process.wait()
