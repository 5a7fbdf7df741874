# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node over DDS (loopback) against the engine's bare predict, input rates, memory.

    python -m benchmarks.bench_node [--quick]

Starts ``mmed_ros.perception_node`` in its own process (as the ROS tests do: loopback-only
discovery, one torch thread) with an untrained `preset('small')` checkpoint, publishes 640x480
rgb8 images and waits for rgb->label and rgb->depth to come back. Latency = publish -> last of
the frame's outputs received. The bare baseline is ``InferenceEngine.infer`` on the same image
in this process, also with one torch thread, interleaved frame by frame with the node's.
Then a rate sweep: frames at a fixed rate for a few seconds each; a rate is *sustained* when
at most 5% (or one) of the frames are lost and the median latency stays within 1.5x the
one-at-a-time one (the node keeps only the newest frame, so overload shows as drops, not as a
growing queue).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import Section, fmt_ms, table

__all__ = ["run", "main"]

NS = "/mmed_bench"
PATHS = (("rgb", "label"), ("rgb", "depth"))
WANT = ("rgb/label", "rgb/depth")


def _checkpoint(folder: Path) -> Path:
    import torch

    from mmed_core.deploy.checkpoint import save_checkpoint
    from mmed_core.network.config import ModelConfig
    from mmed_core.network.factory import create_model

    torch.manual_seed(0)
    path = folder / "small.safetensors"
    save_checkpoint(
        path, create_model(ModelConfig.preset("small")), note="untrained benchmark model"
    )
    return path


def _peak_rss_mib(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of a process, MiB, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmHWM", float("nan")), fields.get("VmRSS", float("nan"))


class _Driver:
    """This process's side: publishes frames, records when each frame's outputs arrive."""

    def __init__(self, probe: Any) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        self.probe = probe
        self.sent: dict[int, float] = {}
        self.arrived: dict[int, dict[str, float]] = {}
        # Reliable input: best-effort 900 kB frames lose fragments on a loaded loopback, which
        # would measure DDS loss rather than the node (the node's qos_reliability matches).
        self.pub = probe.node.create_publisher(
            Image, f"{NS}/cam/rgb", QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.subs = [
            probe.node.create_subscription(
                Image, f"{NS}/perception/{t}", lambda m, t=t: self._on(t, m), QoSProfile(depth=50)
            )
            for t in WANT
        ]
        from diagnostic_msgs.msg import DiagnosticArray

        self.diag: list[dict[str, str]] = []
        self.subs.append(
            probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        )
        self.image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        self._next = 1

    def _on_diag(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(f"{NS}/perception"):
                self.diag.append({kv.key: kv.value for kv in status.values})

    def _on(self, topic: str, msg: Any) -> None:
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrived.setdefault(stamp, {})[topic] = time.monotonic()

    def send(self) -> int:
        from mmed_ros.testing import image_msg

        stamp = self._next * 1_000_000  # unique, small: not a wall time, only a frame id
        self._next += 1
        msg = image_msg(self.image, "rgb8", stamp, "camera")
        self.sent[stamp] = time.monotonic()
        self.pub.publish(msg)
        return stamp

    def done(self, stamp: int) -> bool:
        return len(self.arrived.get(stamp, {})) == len(WANT)

    def latency(self, stamp: int) -> float | None:
        if not self.done(stamp):
            return None
        return max(self.arrived[stamp].values()) - self.sent[stamp]


def _sweep(driver: _Driver, rate: float, seconds: float) -> tuple[int, list[float]]:
    stamps = []
    period = 1.0 / rate
    start = time.monotonic()
    nxt = start
    while time.monotonic() < start + seconds:
        now = time.monotonic()
        if now >= nxt:
            stamps.append(driver.send())
            nxt += period
        driver.probe.executor.spin_once(timeout_sec=max(0.0, min(0.01, nxt - time.monotonic())))
    driver.probe.spin_until(lambda: all(driver.done(s) for s in stamps[-3:]), 3.0)
    lat = [driver.latency(s) for s in stamps]
    return len(stamps), [v for v in lat if v is not None]


def _f(text: str | None) -> str:
    try:
        return f"{float(text):.1f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"


def run(quick: bool = False, robot: bool = False, seconds: float = 0.0, only: str = "") -> Section:
    if robot:
        from .bench_robot import run as run_robot

        return run_robot(seconds or (8.0 if quick else 20.0), only)
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        return Section(
            "Node (perception_node over DDS)", f"Skipped: rclpy is not importable ({exc})."
        )
    import torch

    from mmed_core.deploy.inference import InferenceEngine
    from mmed_ros.testing import Probe, start_module, stop_process

    frames = 8 if quick else 25
    rates = (1.0, 4.0) if quick else (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    seconds = 4.0 if quick else 8.0
    with tempfile.TemporaryDirectory(prefix="mmed-bench-node-") as tmp:
        ckpt = _checkpoint(Path(tmp))
        log = Path(tmp) / "node.log"
        proc = start_module(
            "mmed_ros.perception_node",
            [
                "--ros-args",
                "-r",
                f"__ns:={NS}",
                "-p",
                f"weights:={ckpt}",
                "-p",
                "device:=cpu",
                "-p",
                "rgb_topic:=cam/rgb",
                "-p",
                "paths:=[rgb->label,rgb->depth]",
                "-p",
                "qos_reliability:=reliable",
                "-p",
                "diagnostics_period:=1.0",
            ],
            log=log,
        )
        probe = Probe("mmed_bench_probe")
        threads = torch.get_num_threads()
        try:
            driver = _Driver(probe)
            up = probe.spin_until(
                lambda: (
                    proc.poll() is not None
                    or (
                        probe.node.count_subscribers(f"{NS}/cam/rgb") > 0
                        and probe.node.count_publishers(f"{NS}/perception/rgb/depth") > 0
                    )
                ),
                90.0,
            )
            if not up or proc.poll() is not None:
                return Section(
                    "Node (perception_node over DDS)",
                    "Failed: the node did not come up:\n\n```\n"
                    + log.read_text()[-2000:]
                    + "\n```",
                )
            # The node runs with OMP_NUM_THREADS=1 (mmed_ros.testing): the bare engine does too.
            torch.set_num_threads(1)
            engine = InferenceEngine.from_checkpoint(str(ckpt), device="cpu")
            node_lat, bare = [], []
            for i in range(frames + 3):
                stamp = driver.send()
                # Best-effort input: a frame lost while discovery settles is simply sent again.
                if not probe.spin_until(lambda stamp=stamp: driver.done(stamp), 10.0):
                    continue
                t0 = time.perf_counter()
                engine.infer({"rgb": driver.image}, PATHS)
                t_bare = time.perf_counter() - t0
                if i >= 3:  # warm-up frames
                    node_lat.append(driver.latency(stamp))
                    bare.append(t_bare)
            # The node's own split (its /diagnostics, means over these frames): time in
            # FrameProcessor.process (engine + colour mask) and arrival -> outputs published.
            n_diag = len(driver.diag)
            probe.spin_until(lambda: len(driver.diag) > n_diag, 5.0)
            inside = driver.diag[-1] if driver.diag else {}
            seq = statistics.median(node_lat)
            bare_med = statistics.median(bare)
            ratio = statistics.median(n / b for n, b in zip(node_lat, bare))
            rows, best = [], None
            for rate in rates:
                sent, lat = _sweep(driver, rate, seconds)
                got = len(lat)
                med = statistics.median(lat) if lat else float("nan")
                half = lat[len(lat) // 2 :]
                late = statistics.median(half) if half else float("nan")
                # One lost frame in a short window is not a limit of the node's throughput.
                ok = sent and sent - got <= max(1, 0.05 * sent) and late <= 1.5 * seq
                best = rate if ok else best
                rows.append(
                    [f"{rate:g} Hz", sent, got, fmt_ms(med), fmt_ms(late), "yes" if ok else "no"]
                )
            peak, rss = _peak_rss_mib(proc.pid)
        finally:
            torch.set_num_threads(threads)
            probe.close()
            code = stop_process(proc)
    body = (
        "`preset('small')` checkpoint, 640x480 rgb8 in, rgb->label (+ colour mask) and "
        f"rgb->depth out, CPU, 1 torch thread in both processes, {frames} frames one at a time "
        "(3 warm-up "
        "frames dropped), node and bare predict interleaved.\n\n"
        + table(
            ["what", "median", "ratio to bare predict"],
            [
                ["engine.infer (bare predict, in process)", fmt_ms(bare_med), "1.00x"],
                [
                    "node: FrameProcessor.process (engine + colour mask; node's mean)",
                    f"{_f(inside.get('inference_mean_ms'))} ms",
                    "-",
                ],
                [
                    "node: message arrival -> outputs published (node's mean)",
                    f"{_f(inside.get('latency_mean_ms'))} ms",
                    "-",
                ],
                [
                    "perception_node over DDS, publish -> outputs received",
                    fmt_ms(seq),
                    f"{ratio:.2f}x",
                ],
            ],
        )
        + "\n\nThe rest of the end-to-end time is DDS: one 0.9 MB frame in, label (0.3 MB), "
        "colour mask (0.9 MB) and depth (1.2 MB) out over loopback, plus deserialising them in "
        "Python in this process." + "\n\nRate sweep (each rate for "
        f"{seconds:g} s; latency in the second half of the window shows growth; sustained = at "
        "most 5% (or one) of the frames lost and that latency within 1.5x the one-at-a-time "
        "median):\n\n"
        + table(
            [
                "input rate",
                "frames sent",
                "outputs received",
                "median latency",
                "median latency, 2nd half",
                "sustained",
            ],
            rows,
        )
        + f"\n\nHighest sustained rate of those tried: **{best or 0:g} Hz**. Peak resident "
        f"memory of the node process: **{peak:.0f} MiB** (now {rss:.0f} MiB). The node exited "
        f"with {code} on SIGINT.\n"
    )
    sec = Section("Node (perception_node over DDS)", body)
    sec.targets.append(
        (
            "node latency <= 1.15x bare predict",
            f"{ratio:.2f}x (node {fmt_ms(seq)}, bare {fmt_ms(bare_med)})",
            ratio <= 1.15,
        )
    )
    sec.targets.append(
        (
            "highest sustained input rate / peak node memory",
            f"{best or 0:g} Hz / {peak:.0f} MiB",
            None,
        )
    )
    return sec


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--robot",
        action="store_true",
        help="camera process -> node process -> counter (benchmarks/bench_robot.py) instead",
    )
    ap.add_argument("--seconds", type=float, default=0.0, help="--robot: seconds per row")
    ap.add_argument("--only", default="", help="--robot: rows whose setting contains this")
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="S",
        help="--robot: instead, the main 640x480 RGB-D row for S seconds (RSS, latency drift)",
    )
    ap.add_argument(
        "--write",
        metavar="MD",
        help="--robot: put the section (and its targets) into this markdown file, replacing "
        "the previous one (e.g. docs/BENCHMARKS.md)",
    )
    args = ap.parse_args(argv)
    if args.robot and args.soak:
        from .bench_robot import soak

        sec = soak(args.soak)
    else:
        sec = run(args.quick, robot=args.robot, seconds=args.seconds, only=args.only)
    print(sec.markdown())
    if args.write:
        write_section(Path(args.write), sec, "node-soak" if args.soak else "node-robot")
    return 0


def write_section(path: Path, sec: Section, key: str = "node-robot") -> None:
    """Replace the section marked ``key`` in ``path`` (or add it before '## GPU'), atomically."""
    from mmed_core.atomic import atomic_write_text

    _BEGIN, _END = f"<!-- {key}:begin (benchmarks/bench_robot.py) -->", f"<!-- {key}:end -->"
    verdict = {True: "met", False: "**not met**", None: "-"}
    block = (
        f"{_BEGIN}\n{sec.markdown()}\nTargets (issue 11):\n\n"
        + table(["target", "measured", "verdict"], [[a, b, verdict[c]] for a, b, c in sec.targets])
        + f"\n{_END}"
    )
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if _BEGIN in text and _END in text:
        head, rest = text.split(_BEGIN, 1)
        text = head + block + rest.split(_END, 1)[1]
    elif "## GPU" in text:
        head, tail = text.split("## GPU", 1)
        text = head + block + "\n\n## GPU" + tail
    else:
        text = text + "\n" + block + "\n"
    atomic_write_text(path, text)


if __name__ == "__main__":
    raise SystemExit(main())
