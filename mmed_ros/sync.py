# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""RGB-D pairing by stamp and fair scheduling between sources, ROS-free.

    python -m pytest test/test_ros_sync.py

:class:`ApproxTimePairer` pairs an RGB frame with the depth frame of the same instant
(``message_filters``' ApproximateTime is not installed everywhere, so this is a small one of our
own): frames arrive in stamp order per source; the oldest frame of each source are paired when
their stamps differ by at most ``slop`` and no queued frame is closer; a frame that can no longer
find a partner is dropped and reported with the reason. :class:`FairMailbox` keeps only the
newest unit of work per key (no backlog) and hands them out round robin, so one source never
starves another.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Drop", "PairResult", "ApproxTimePairer", "FairMailbox"]

T = TypeVar("T")

# Reasons a frame leaves the pairer without a partner (keys of the diagnostics counters).
UNPAIRED = "unpaired"  # the other source has nothing within the slop (and never will)
SUPERSEDED = "superseded"  # a later frame of the same source is closer to the partner
OVERFLOW = "no_partner"  # the other source sent nothing while sync_queue frames queued up
OUT_OF_ORDER = "out_of_order"  # stamp older than one already paired


@dataclass(frozen=True)
class Drop:
    """A frame that will never be processed: its source, stamp (ns) and why."""

    key: str
    stamp_ns: int
    reason: str


@dataclass
class PairResult(Generic[T]):
    """What one :meth:`ApproxTimePairer.add` produced: complete pairs and dropped frames."""

    pairs: list[dict[str, T]] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)


class ApproxTimePairer(Generic[T]):
    """Pairs the frames of two sources whose stamps differ by at most ``slop_ns``.

    Frames of each source are assumed to come in stamp order (a camera driver's do; one that
    does not is dropped as ``out_of_order``). Decisions are made from what is queued, never by
    waiting for a future frame, so a pair comes out as soon as its second frame arrives; this
    is exact when ``slop`` is below half the frame period (frames of one source are then never
    both within the slop of one partner). At most ``queue_size`` frames wait per source.
    """

    def __init__(self, keys: Sequence[str], slop_ns: int, queue_size: int = 5) -> None:
        if len(keys) != 2 or keys[0] == keys[1]:
            raise ValueError(f"ApproxTimePairer: expected two distinct keys, got {list(keys)}")
        if slop_ns < 0 or queue_size < 1:
            raise ValueError(
                f"ApproxTimePairer: expected slop_ns >= 0 and queue_size >= 1, "
                f"got {slop_ns} and {queue_size}"
            )
        self.keys = (keys[0], keys[1])
        self.slop_ns = int(slop_ns)
        self.queue_size = int(queue_size)
        self._queues: dict[str, deque[tuple[int, T]]] = {k: deque() for k in self.keys}
        self._last_paired: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, key: str, stamp_ns: int, item: T) -> PairResult[T]:
        """Queue ``item`` of source ``key``; return the pairs it completes and what it drops."""
        if key not in self._queues:
            raise KeyError(f"ApproxTimePairer: unknown source {key!r}; known {list(self.keys)}")
        out: PairResult[T] = PairResult()
        with self._lock:
            queue = self._queues[key]
            last = queue[-1][0] if queue else self._last_paired.get(key)
            if last is not None and stamp_ns <= last:
                out.drops.append(Drop(key, stamp_ns, OUT_OF_ORDER))
                return out
            queue.append((stamp_ns, item))
            self._match(out)
            while len(queue) > self.queue_size:
                out.drops.append(Drop(key, queue.popleft()[0], OVERFLOW))
        return out

    def pending(self) -> dict[str, int]:
        """Frames waiting for a partner, per source."""
        with self._lock:
            return {k: len(q) for k, q in self._queues.items()}

    def clear(self) -> list[Drop]:
        """Forget every waiting frame (e.g. on deactivate); returns them as drops."""
        with self._lock:
            drops = [Drop(k, s, UNPAIRED) for k, q in self._queues.items() for s, _ in q]
            for q in self._queues.values():
                q.clear()
            return drops

    def _match(self, out: PairResult[T]) -> None:
        a, b = self.keys
        qa, qb = self._queues[a], self._queues[b]
        while qa and qb:
            ta, tb = qa[0][0], qb[0][0]
            if ta < tb - self.slop_ns:  # every b, now or later, is too late for this a
                out.drops.append(Drop(a, qa.popleft()[0], UNPAIRED))
                continue
            if tb < ta - self.slop_ns:
                out.drops.append(Drop(b, qb.popleft()[0], UNPAIRED))
                continue
            # Within the slop. A later queued frame of the older side may be closer still.
            if tb < ta and len(qb) > 1 and abs(qb[1][0] - ta) < ta - tb:
                out.drops.append(Drop(b, qb.popleft()[0], SUPERSEDED))
                continue
            if ta < tb and len(qa) > 1 and abs(qa[1][0] - tb) < tb - ta:
                out.drops.append(Drop(a, qa.popleft()[0], SUPERSEDED))
                continue
            (sa, ia), (sb, ib) = qa.popleft(), qb.popleft()
            self._last_paired[a], self._last_paired[b] = sa, sb
            out.pairs.append({a: ia, b: ib})


class FairMailbox(Generic[T]):
    """The newest unit of work per key, handed out round robin (least recently served first).

    ``put`` replaces a waiting unit and returns it (the caller counts it as dropped): a source
    faster than the network never builds a backlog, and the latency of what is processed stays
    about one inference. ``take`` returns one unit, of the key served longest ago, so a source
    that arrives more often cannot starve another.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._slots: dict[str, T] = {}
        self._served: dict[str, int] = {}
        self._turn = 0
        self._closed = False

    def put(self, key: str, item: T) -> T | None:
        """Store ``item`` for ``key``; returns the unprocessed item it replaced, if any."""
        with self._cond:
            old = self._slots.get(key)
            self._slots[key] = item
            self._cond.notify()
            return old

    def take(self, timeout: float | None = None) -> tuple[str, T] | None:
        """One (key, item), least recently served key first; None after ``timeout``/close."""
        with self._cond:
            if not self._slots and not self._closed:
                self._cond.wait(timeout)
            if not self._slots:
                return None
            key = min(self._slots, key=lambda k: self._served.get(k, -1))
            self._turn += 1
            self._served[key] = self._turn
            return key, self._slots.pop(key)

    def drain(self) -> dict[str, T]:
        """Remove and return every waiting item."""
        with self._cond:
            items, self._slots = self._slots, {}
            return items

    def close(self) -> None:
        """Wake a waiting ``take`` so the worker can see that it has to stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
