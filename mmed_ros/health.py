# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Input health for /diagnostics, ROS-free: rates, frames lost upstream, silence, counters.

    python -m pytest test/test_ros_sync.py

One :class:`SourceHealth` per subscribed input. The node feeds it every arrival (wall time and
header stamp) and every outcome (processed, dropped with a reason); :meth:`SourceHealth.status`
turns that into a diagnostic_updater-style status: a level (OK / WARN / ERROR), a one-line
message and key/values. Two rates are measured: from arrival times (what reaches this node) and
from header stamps (what the camera produced); stamp gaps longer than 1.5 nominal periods count
as frames lost before they reached the node (in the driver or the transport).
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OK", "WARN", "ERROR", "LEVEL_NAMES", "StampGaps", "SourceHealth", "HealthStatus"]

OK, WARN, ERROR = 0, 1, 2
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}


@dataclass(frozen=True)
class HealthStatus:
    """One diagnostic status without ROS types (the node turns it into a DiagnosticStatus)."""

    level: int
    message: str
    values: dict[str, str]


class StampGaps:
    """Nominal period from header stamps (median of recent deltas) and frames missing in gaps.

    A gap of k periods (k >= 1.5) counts ``round(k) - 1`` missing frames. A stamp that goes
    backwards (a bag looping, a driver restart) resets the estimate instead of counting.
    """

    def __init__(self, window: int = 30) -> None:
        self._deltas: deque[int] = deque(maxlen=window)
        self._last: int | None = None
        self.missing = 0
        self.resets = 0

    def add(self, stamp_ns: int) -> int:
        """Record one stamp; returns how many frames were missing just before it."""
        last, self._last = self._last, stamp_ns
        if last is None:
            return 0
        delta = stamp_ns - last
        if delta <= 0:
            if delta < 0:
                self.resets += 1
                self._deltas.clear()
            return 0
        period = self.period_ns
        self._deltas.append(delta)
        if period is None or len(self._deltas) < 4:
            return 0
        k = delta / period
        if k < 1.5:
            return 0
        lost = int(round(k)) - 1
        self.missing += lost
        return lost

    @property
    def period_ns(self) -> float | None:
        return float(statistics.median(self._deltas)) if len(self._deltas) >= 3 else None

    @property
    def rate_hz(self) -> float:
        """Rate the source produced frames at (1 / nominal period), NaN until known."""
        period = self.period_ns
        return 1e9 / period if period else float("nan")


@dataclass
class SourceHealth:
    """Arrivals, outcomes and silence of one input topic; thread-safe."""

    name: str  # the source ('rgb', 'depth', ...)
    topic: str  # resolved topic name, as the messages say it
    expected_rate: float = 0.0  # Hz; 0 = no expectation
    window_s: float = 5.0
    silence_warn_s: float = 3.0
    silence_error_s: float = 10.0
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    received: int = 0
    processed: int = 0
    dropped: Counter = field(default_factory=Counter)
    gaps: StampGaps = field(default_factory=StampGaps)
    _arrivals: deque = field(default_factory=deque, repr=False)
    _since: float | None = field(default=None, repr=False)  # subscribed at
    _last: float | None = field(default=None, repr=False)  # last arrival
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> None:
        """The subscription exists from now on (silence is measured from here)."""
        with self._lock:
            self._since = self.clock()
            self._last = None
            self._arrivals.clear()

    def arrived(self, stamp_ns: int) -> None:
        now = self.clock()
        with self._lock:
            self.received += 1
            self._last = now
            self._arrivals.append(now)
            self._trim(now)
            self.gaps.add(stamp_ns)

    def done(self) -> None:
        with self._lock:
            self.processed += 1

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[reason] += n

    def _trim(self, now: float) -> None:
        while self._arrivals and self._arrivals[0] < now - self.window_s:
            self._arrivals.popleft()

    def arrival_rate(self) -> float:
        """Messages per second reaching the node over the last ``window_s`` (0 when silent)."""
        now = self.clock()
        with self._lock:
            self._trim(now)
            n = len(self._arrivals)
            if n < 2:
                return 0.0
            # Measured up to now, not to the last arrival: the rate falls while a source is silent.
            return (n - 1) / max(now - self._arrivals[0], 1e-9)

    def silent_for(self) -> float:
        """Seconds since the last message (or since subscribing when none came)."""
        with self._lock:
            ref = self._last if self._last is not None else self._since
        return 0.0 if ref is None else max(0.0, self.clock() - ref)

    def status(self, qos_note: Callable[[], str] | None = None) -> HealthStatus:
        """Level, message and values; ``qos_note()`` (what publishers offer) on silence."""
        rate = self.arrival_rate()
        stamp_rate = self.gaps.rate_hz
        silent = self.silent_for()
        with self._lock:
            dropped = sum(self.dropped.values())
            values = {
                "topic": self.topic,
                "received": str(self.received),
                "processed": str(self.processed),
                "dropped": str(dropped),
                "rate_arrivals_hz": f"{rate:.2f}",
                "rate_stamps_hz": f"{stamp_rate:.2f}",
                "lost_upstream": str(self.gaps.missing),
                "silent_s": f"{silent:.1f}",
            }
            values.update({f"dropped[{k}]": str(v) for k, v in sorted(self.dropped.items())})
            received = self.received
        if self.expected_rate:
            values["expected_rate_hz"] = f"{self.expected_rate:.2f}"
        level, parts = OK, []
        if silent >= self.silence_warn_s:
            level = ERROR if silent >= self.silence_error_s else WARN
            what = "no message yet" if not received else "no message"
            note = qos_note() if qos_note else ""
            parts.append(
                f"{what} on {self.topic} for {silent:.1f} s" + (f"; {note}" if note else "")
            )
        else:
            parts.append(f"{rate:.1f} Hz in")
            if self.expected_rate and rate < 0.9 * self.expected_rate:
                level = WARN
                parts[-1] += f" (expected {self.expected_rate:g} Hz)"
            if self.gaps.missing:
                parts.append(f"{self.gaps.missing} lost upstream (stamp gaps)")
        parts.append(f"{self.processed} processed, {dropped} dropped")
        return HealthStatus(level, f"{self.name}: " + ", ".join(parts), values)

    def snapshot(self) -> dict[str, Any]:
        """Counters only (for the node's summary status and tests)."""
        with self._lock:
            return {
                "received": self.received,
                "processed": self.processed,
                "dropped": dict(self.dropped),
                "lost_upstream": self.gaps.missing,
            }
