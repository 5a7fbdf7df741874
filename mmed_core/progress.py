# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Progress of long work: a bar on a terminal, plain lines in a log.

A carriage-return bar written to a file (a log, CI, ``nohup``) floods it with one "line" per
refresh and says nothing a reader can grep. :func:`progress` returns a tqdm bar when the stream
is a terminal and a :class:`LineProgress` otherwise, which prints one plain line at most every
``every`` seconds and one when the work ends (unless it took under ``quiet_under`` seconds)::

    cache synthetic-train: 1200/4000 img (30%), 41.3 img/s, about 1m08s left
    cache synthetic-train: 4000/4000 img (100%) in 1m37s, 41.2 img/s

Both have ``update(n)`` and ``close()`` and are context managers, so callers do not care which
one they got.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from tqdm import tqdm

__all__ = ["LineProgress", "format_duration", "progress"]


def format_duration(seconds: float) -> str:
    """``seconds`` as ``42s``, ``3m05s`` or ``2h07m``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """Progress as plain lines: at most one every ``every`` seconds, and one at the end unless
    the work took under ``quiet_under`` seconds (a quick step stays quiet)."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        *,
        stream: IO[str] | None = None,
        every: float = 30.0,
        quiet_under: float = 5.0,
        initial: int = 0,
        clock: Any = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n = self._initial = int(initial)  # a resumed job starts part way
        self._postfix = ""
        self._stream = stream
        self._every = float(every)
        self._quiet_under = float(quiet_under)
        self._lines = 0
        self._clock = clock
        self._start = self._last = clock()
        self._closed = False

    def _write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        self._lines += 1
        print(f"{self.desc}: {text}", file=stream, flush=True)

    def set_postfix(self, **values: object) -> None:
        """Values appended to the next lines (``loss=0.5`` -> ``, loss 0.5``), as tqdm's."""
        self._postfix = "".join(f", {k} {v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self._every and self.n < self.total:
            self._last = now
            rate = (self.n - self._initial) / max(now - self._start, 1e-9)
            left = (self.total - self.n) / rate if rate > 0 else float("inf")
            pct = 100.0 * self.n / max(self.total, 1)
            eta = format_duration(left) if left != float("inf") else "?"
            self._write(
                f"{self.n}/{self.total} {self.unit} ({pct:.0f}%), {rate:.1f} {self.unit}/s, "
                f"about {eta} left{self._postfix}"
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        took = self._clock() - self._start
        if took < self._quiet_under and not self._lines:
            return
        rate = (self.n - self._initial) / max(took, 1e-9)
        done = "" if self.n >= self.total else ", stopped"
        pct = 100.0 * self.n / max(self.total, 1)
        self._write(
            f"{self.n}/{self.total} {self.unit} ({pct:.0f}%{done}) in {format_duration(took)}, "
            f"{rate:.1f} {self.unit}/s{self._postfix}"
        )

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent:
    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, **values: object) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(
    total: int,
    desc: str,
    unit: str = "it",
    *,
    enabled: bool = True,
    stream: IO[str] | None = None,
    every: float = 30.0,
    quiet_under: float = 5.0,
    initial: int = 0,
    leave: bool = True,
) -> Any:
    """A progress reporter for ``total`` steps of ``desc`` (``initial`` of them done already): a
    tqdm bar when ``stream`` (default stderr) is a terminal (``leave``: keep it when done), plain
    lines (:class:`LineProgress`) when it is not, nothing when ``enabled`` is false."""
    if not enabled:
        return _Silent()
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            file=out,
            dynamic_ncols=True,
            initial=initial,
            leave=leave,
        )
    return LineProgress(
        total, desc, unit, stream=out, every=every, quiet_under=quiet_under, initial=initial
    )
