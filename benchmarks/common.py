# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Timing and reporting helpers shared by the benchmarks (not a test: nothing here asserts speed).

    python -m benchmarks.run            # runs every benchmark, writes docs/BENCHMARKS.md

Machines are noisy (the build machine is shared), so every figure is a *ratio against a
baseline measured in the same run*: :func:`compare` interleaves the candidates round by round,
so a burst of load hits all of them alike, and reports each one's median and its ratio to the
first (the baseline) as the median of per-round ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "Timing",
    "compare",
    "machine",
    "table",
    "timing_rows",
    "Section",
    "gemm_gflops",
    "gemm_peak",
    "fmt_ms",
]


@dataclass
class Timing:
    """Seconds per call of one candidate over the rounds of :func:`compare`."""

    name: str
    times: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round, against the baseline

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 1.0

    @property
    def spread(self) -> float:
        """Interquartile range of the per-round ratios: how far to trust ``ratio``."""
        if len(self.ratios) < 4:
            return float("nan")
        q = statistics.quantiles(self.ratios, n=4)
        return q[2] - q[0]


def compare(
    candidates: Sequence[tuple[str, Callable[[], object]]],
    *,
    rounds: int = 7,
    warmup: int = 2,
    inner: int = 1,
) -> list[Timing]:
    """Time each ``fn`` ``rounds`` times, interleaved; the first candidate is the baseline.

    ``inner`` calls per sample (for calls of a few ms). Returns one Timing per candidate.
    """
    for _, fn in candidates:
        for _ in range(warmup):
            fn()
    out = [Timing(name) for name, _ in candidates]
    for _ in range(rounds):
        for t, (_, fn) in zip(out, candidates):
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            t.times.append((time.perf_counter() - start) / inner)
        base = out[0].times[-1]
        for t in out:
            t.ratios.append(t.times[-1] / base)
    return out


def gemm_gflops(
    n: int = 1024, rounds: int = 7, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> tuple[float, float]:
    """(median GFLOP/s, median seconds) of an n x n x n matrix product: the machine's practical
    peak for torch, measured now (2 n^3 FLOPs per product)."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(2):
        a @ b
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        a @ b
        sync()
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    return 2 * n**3 / t / 1e9, t


def gemm_peak(sizes: Sequence[int] = (1024, 2048), repeats: int = 2) -> float:
    """Best GEMM GFLOP/s over a few sizes and repeats: torch's practical peak on this machine
    now (on a shared machine a single measurement can catch a burst of load)."""
    return max(gemm_gflops(n)[0] for n in sizes for _ in range(repeats))


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info = {
        "cpu": f"{cpu} ({os.cpu_count()} logical cores, torch threads {torch.get_num_threads()})",
        "load (1 min) at start": f"{load:.2f}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = "not installed"
    return info


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def timing_rows(
    timings: Sequence[Timing],
    extra: Callable[[Timing], Sequence[object]] | None = None,
) -> list[list[object]]:
    """Rows 'name | median | ratio (IQR)' for :func:`table`."""
    rows = []
    for t in timings:
        row: list[object] = [
            t.name,
            fmt_ms(t.median),
            f"{t.ratio:.2f}x" + ("" if t is timings[0] else f" (IQR {t.spread:.2f})"),
        ]
        rows.append(row + list(extra(t) if extra else []))
    return rows


@dataclass
class Section:
    """One benchmark's part of docs/BENCHMARKS.md."""

    title: str
    body: str
    targets: list[tuple[str, str, bool | None]] = field(default_factory=list)  # (target, got, met)

    def markdown(self) -> str:
        return f"## {self.title}\n\n{self.body.strip()}\n"
