#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Soak test of perception_node: N frames at the highest rate it sustains, over loopback DDS.

    python scripts/soak.py --frames 3000 --size 480 640 --json soak.json
    python scripts/soak.py --frames 60 --size 48 64          # a few seconds (the test suite's)

Starts ``perception_node`` as a separate process (DDS discovery limited to this machine, a
random domain id: ``mmed_ros.node_processes.ros_env``), then from this process:

1. warm-up: frames one at a time until outputs come back;
2. rate finding: closed loop (send, wait for the label, send the next) for ``--probe-frames``
   frames gives the throughput; open-loop bursts from ``--load`` x that rate, 15 % slower
   each time, until one drops at most ``--max-drop`` of its frames (``--rate`` forces one);
3. soak: ``--frames`` RGB frames open loop at that rate; each label output is matched to its
   frame by stamp.

Reports latency percentiles (frame sent -> label received), drops (frames without a label; the
node keeps only the newest frame, so drops mean it fell behind), the node's own counters from
/diagnostics, and the node's resident memory (VmRSS) after warm-up, at the end and its peak,
with the growth over the soak. Exit status 1 when the RSS grows more than ``--max-growth-mb``
or the node dies, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from mmed_ros.testing import Probe, image_msg, start_module, stop_process, tiny_checkpoint  # noqa: E402

NS = "/soak"
BASE_STAMP = 1_000_000_000


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


class Soak:
    def __init__(self, args: argparse.Namespace, proc: Any, probe: Probe) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.args, self.proc, self.probe = args, proc, probe
        self.arrived: dict[int, float] = {}
        self.diag: dict[str, str] = {}
        probe.node.create_subscription(
            Image, f"{NS}/perception/rgb/label", self._on_label, QoSProfile(depth=100)
        )
        probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        qos = (
            qos_profile_sensor_data
            if args.qos == "best_effort"
            else QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.pub = probe.node.create_publisher(Image, f"{NS}/rgb", qos)
        h, w = args.size
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        self.msg = image_msg(frame, "rgb8", BASE_STAMP, "soak_camera")
        self.sent: dict[int, float] = {}
        self.next_id = 0
        self.rss: list[tuple[float, float]] = []

    def _on_label(self, msg: Any) -> None:
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrived.setdefault(stamp - BASE_STAMP, time.monotonic())

    def _on_diag(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(f"{NS}/perception"):
                self.diag = {kv.key: kv.value for kv in status.values}

    def send(self) -> int:
        i = self.next_id
        self.next_id += 1
        self.msg.header.stamp.sec, self.msg.header.stamp.nanosec = divmod(BASE_STAMP + i, 10**9)
        self.sent[i] = time.monotonic()
        self.pub.publish(self.msg)
        return i

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.probe.executor.spin_once(timeout_sec=min(left, 0.01))

    def closed_loop(self, n: int, timeout: float) -> list[float]:
        """Send ``n`` frames one at a time (resending lost ones); their round-trip times."""
        times = []
        for _ in range(n):
            for _attempt in range(int(timeout / 0.5)):
                i = self.send()
                if self.probe.spin_until(lambda i=i: i in self.arrived, 0.5):
                    times.append(self.arrived[i] - self.sent[i])
                    break
            else:
                raise RuntimeError(
                    f"no output within {timeout} s; is the node up? (exit code {self.proc.poll()})"
                )
        return times

    def open_loop(self, n: int, rate: float) -> tuple[int, int]:
        """Send ``n`` frames at ``rate`` Hz; returns the id range sent."""
        first = self.next_id
        start = time.monotonic()
        period = 1.0 / rate
        next_rss = start
        for k in range(n):
            self.spin_for(start + k * period - time.monotonic())
            self.send()
            if time.monotonic() >= next_rss:
                self.rss.append((time.monotonic() - start, rss_mb(self.proc.pid)))
                next_rss += 1.0
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"perception_node died during the soak (exit {self.proc.poll()})"
                )
        self.spin_for(max(1.0, 5 * period))  # the last outputs in flight
        self.rss.append((time.monotonic() - start, rss_mb(self.proc.pid)))
        return first, self.next_id


def find_rate(soak: Soak, args: argparse.Namespace, rate: float) -> float:
    """Highest rate, from ``rate`` down in 15 % steps, whose short burst drops <= --max-drop."""
    for _ in range(10):
        first, last = soak.open_loop(max(20, int(rate * args.burst_s)), rate)
        dropped = sum(1 for i in range(first, last) if i not in soak.arrived)
        if dropped <= args.max_drop * (last - first):
            break
        rate *= 0.85
    return rate


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="mmed_soak_"))
    weights = (
        Path(args.weights)
        if args.weights
        else tiny_checkpoint(workdir / "tiny.safetensors", input_size=tuple(args.input_size))
    )
    log = workdir / "perception.log"
    proc = start_module(
        "mmed_ros.perception_node",
        [
            "--ros-args",
            "-r",
            f"__ns:={NS}",
            "-p",
            f"weights:={weights}",
            "-p",
            f"device:={args.device}",
            "-p",
            "rgb_topic:=rgb",
            "-p",
            "paths:=[rgb->label, rgb->depth]",
            "-p",
            "diagnostics_period:=0.5",
            "-p",
            f"qos_reliability:={args.qos}",
        ],
        log=log,
    )
    probe = Probe("mmed_soak_probe")
    try:
        soak = Soak(args, proc, probe)
        if (
            not probe.spin_until(
                lambda: proc.poll() is not None or probe.node.count_subscribers(f"{NS}/rgb") > 0,
                60.0,
            )
            or proc.poll() is not None
        ):
            raise RuntimeError(
                f"perception_node did not start:\n{log.read_text(errors='replace')}"
            )
        soak.closed_loop(args.warmup, timeout=60.0)
        rss_start = rss_mb(proc.pid)
        rtt = soak.closed_loop(args.probe_frames, timeout=30.0)
        capacity = 1.0 / float(np.median(rtt))
        rate = args.rate or find_rate(soak, args, args.load * capacity)
        soak.rss = []
        first, last = soak.open_loop(args.frames, rate)
        ids = range(first, last)
        lat = np.array([soak.arrived[i] - soak.sent[i] for i in ids if i in soak.arrived]) * 1e3
        received = len(lat)
        rss_end = rss_mb(proc.pid)
        growth = rss_end - rss_start
        t, m = np.array(soak.rss).T if len(soak.rss) > 1 else (np.zeros(2), np.zeros(2))
        slope = float(np.polyfit(t, m, 1)[0] * 60.0) if len(soak.rss) > 2 else 0.0
        # Allocators and caches grow early on; a leak keeps growing in the second half too.
        half = t >= t[-1] / 2
        slope2 = float(np.polyfit(t[half], m[half], 1)[0] * 60.0) if half.sum() > 2 else 0.0
        pct = (lambda q: float(np.percentile(lat, q))) if received else (lambda q: float("nan"))
        report = {
            "machine": machine(),
            "device": args.device,
            "qos": args.qos,
            "image": list(args.size),
            "model_input": list(args.input_size),
            "weights": str(weights),
            "closed_loop_fps": capacity,
            "rate_hz": rate,
            "frames_sent": len(ids),
            "frames_with_output": received,
            "dropped": len(ids) - received,
            "drop_rate": (len(ids) - received) / max(len(ids), 1),
            "latency_ms": {
                "p50": pct(50),
                "p90": pct(90),
                "p99": pct(99),
                "max": float(lat.max()) if received else float("nan"),
            },
            "node_diagnostics": {
                k: soak.diag.get(k)
                for k in (
                    "received_total",
                    "processed_total",
                    "dropped_total",
                    "errors_total",
                    "inference_mean_ms",
                )
            },
            "rss_mb": {
                "after_warmup": rss_start,
                "end": rss_end,
                "peak": max([rss_start, rss_end, *(r for _, r in soak.rss)]),
                "growth": growth,
                "slope_mb_per_min": slope,
                "slope_second_half_mb_per_min": slope2,
                "samples": [[round(a, 1), round(b, 2)] for a, b in soak.rss],
            },
            "seconds": float(t[-1]) if len(soak.rss) else 0.0,
        }
        report["rss_ok"] = growth <= args.max_growth_mb
        report["node_alive"] = proc.poll() is None
        return report
    finally:
        code = stop_process(proc)
        probe.close()
        if code not in (0, -2):
            print(f"perception_node exited with {code}; log in {log}", file=sys.stderr)


def format_report(r: dict[str, Any]) -> str:
    lat, rss = r["latency_ms"], r["rss_mb"]
    return "\n".join(
        [
            f"machine: {r['machine']} (device {r['device']}, input QoS {r['qos']})",
            f"image {r['image'][0]}x{r['image'][1]} rgb8 -> label + depth, model input "
            f"{r['model_input'][0]}x{r['model_input'][1]}",
            f"closed-loop throughput {r['closed_loop_fps']:.1f} fps; "
            f"soak at {r['rate_hz']:.1f} Hz "
            f"for {r['seconds']:.0f} s",
            f"frames sent {r['frames_sent']}, with output {r['frames_with_output']}, dropped "
            f"{r['dropped']} ({100 * r['drop_rate']:.1f} %)",
            f"latency ms: p50 {lat['p50']:.1f}, p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, "
            f"max {lat['max']:.1f}",
            f"node RSS MiB: after warm-up {rss['after_warmup']:.1f}, end {rss['end']:.1f}, peak "
            f"{rss['peak']:.1f}, growth {rss['growth']:+.1f} "
            f"({rss['slope_mb_per_min']:+.2f} MiB/min, "
            f"second half {rss['slope_second_half_mb_per_min']:+.2f} MiB/min)"
            f" -> {'ok' if r['rss_ok'] else 'GROWS'}",
            f"node diagnostics: {r['node_diagnostics']}",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=3000, help="frames in the soak phase")
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(480, 640),
        metavar=("H", "W"),
        help="camera image size",
    )
    p.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        default=(96, 96),
        metavar=("H", "W"),
        help="model input size of the generated tiny checkpoint",
    )
    p.add_argument("--weights", help="checkpoint to run (default: an untrained tiny model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--probe-frames", type=int, default=30)
    p.add_argument(
        "--load",
        type=float,
        default=0.9,
        help="soak rate as a fraction of the closed-loop throughput",
    )
    p.add_argument("--rate", type=float, default=0.0, help="force this rate (Hz) instead")
    p.add_argument(
        "--max-drop",
        type=float,
        default=0.01,
        help="drop fraction a sustained rate may have (rate finding)",
    )
    p.add_argument("--burst-s", type=float, default=2.0, help="seconds per rate-finding burst")
    p.add_argument(
        "--max-growth-mb",
        type=float,
        default=20.0,
        help="RSS growth over the soak that counts as a leak",
    )
    p.add_argument(
        "--qos",
        choices=("reliable", "best_effort"),
        default="reliable",
        help="input QoS of the node and this publisher; best_effort (sensor data) "
        "also measures what DDS itself loses with large images",
    )
    p.add_argument("--json", help="also write the report here")
    return p


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so `finally` stops the node process on SIGTERM too


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    report = run(args)
    print(format_report(report))
    if args.json:
        from mmed_core.atomic import atomic_write_json

        atomic_write_json(args.json, report)
    return 0 if report["rss_ok"] and report["node_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
