"""Progress of a long command: a bar on a terminal, one line per step with its time otherwise.

A step is announced by a label (``"circuit membership (85,520 customers)"``; sub-steps of a
long step are ``"<step>: <part> (...)"``). On a terminal a tqdm bar counts the steps and
shows the current label; when standard error is not a terminal (a log file, a scheduler)
each step gets one line when it ends: its label and how long it took, so a run at licence
scale is never silent for long and the log says where the time went. ``-q`` silences both.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]


def base_step(label: str) -> str:
    """Return the step a label belongs to (``"writing letters.csv (9 rows)"`` -> ``"writing"``)."""
    name = label.split(" (", 1)[0].split(":", 1)[0]
    return "writing outputs" if name.startswith("writing") else name


class Progress:
    """Report the steps of one command on ``stream`` (standard error by default).

    Parameters
    ----------
    steps : sequence of str
        The main steps, in order (the bar's length).
    desc : str
        What runs (``"campaign"``).
    quiet : bool
        Say nothing.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(
        self, steps: Sequence[str], *, desc: str, quiet: bool, stream: TextIO | None = None
    ) -> None:
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        self.steps = tuple(steps)
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = tqdm(
            total=len(self.steps),
            desc=desc,
            unit="step",
            file=self.stream,
            disable=quiet or not self.tty,
            leave=False,
        )
        self.done: set[str] = set()
        self.current: str | None = None
        self.started = time.perf_counter()
        self.t0 = self.started

    def __call__(self, label: str) -> None:
        """Start step ``label`` (ending the one before)."""
        self._end_current()
        self.current, self.started = label, time.perf_counter()
        self.bar.set_description(label)
        base = base_step(label)
        if base in self.steps and base not in self.done:
            self.done.add(base)
            self.bar.n = len(self.done)
            self.bar.refresh()

    def _end_current(self) -> None:
        if self.current is None or self.quiet or self.tty:
            return
        took = time.perf_counter() - self.started
        print(f"  {self.current}: {took:.1f} s", file=self.stream, flush=True)

    def close(self, *, ok: bool = True) -> None:
        """End the last step; print the total time (not on a terminal)."""
        if ok:
            self._end_current()
            if not (self.quiet or self.tty) and self.current is not None:
                total = time.perf_counter() - self.t0
                print(f"  total: {total:.1f} s", file=self.stream, flush=True)
        self.current = None
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=exc_type is None)
