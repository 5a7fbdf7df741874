# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What the perception node does between a decoded frame and the images it publishes, ROS-free.

The node only moves messages: callbacks put the newest frame of each source into a
:class:`LatestMailbox`, a worker thread takes it, :class:`FrameProcessor` runs the inference
engine and builds every output array, and :class:`PipelineStats` counts what happened for
``/diagnostics``. All of it is tested without rclpy::

    python -m pytest test/test_ros_pipeline.py
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.errors import ConfigError
from mmed_ros.conversions import colorize, overlay

__all__ = [
    "LatestMailbox",
    "PipelineStats",
    "OutputImage",
    "FrameProcessor",
    "output_topics",
    "camera_info_topic",
    "scale_intrinsics",
    "require_metric_depth",
]

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """One slot per source: ``put`` replaces an unprocessed item (and counts it as dropped).

    A camera faster than the network must not build a backlog: the worker always gets the
    newest frame, and the latency of what is published stays one inference long.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._slots: dict[str, T] = {}
        self._closed = False

    def put(self, key: str, item: T) -> bool:
        """Store ``item`` for ``key``; True when it replaced (dropped) an unprocessed one."""
        with self._cond:
            dropped = key in self._slots
            self._slots[key] = item
            self._cond.notify()
            return dropped

    def take(self, timeout: float | None = None) -> dict[str, T]:
        """Every pending item (possibly none after ``timeout`` or ``close``), emptying the
        slots."""
        with self._cond:
            if not self._slots and not self._closed:
                self._cond.wait(timeout)
            items, self._slots = self._slots, {}
            return items

    def close(self) -> None:
        """Wake the worker so it can see that it has to stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


@dataclass
class PipelineStats:
    """Thread-safe counters and latency window reported on /diagnostics."""

    window: int = 100
    received: Counter = field(default_factory=Counter)
    processed: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # by kind, e.g. 'rgb: ConversionError'
    _latency: deque = field(default_factory=deque)
    _inference: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, counter: str, key: str, n: int = 1) -> None:
        with self._lock:
            getattr(self, counter)[key] += n

    def add_timing(self, latency_s: float, inference_s: float) -> None:
        """``latency_s``: message arrival to publish; ``inference_s``: engine time."""
        with self._lock:
            for queue, value in ((self._latency, latency_s), (self._inference, inference_s)):
                queue.append(value)
                while len(queue) > self.window:
                    queue.popleft()

    def snapshot(self) -> dict[str, Any]:
        """Flat name -> value summary (the key/values of one DiagnosticStatus)."""
        with self._lock:
            lat = np.asarray(self._latency, dtype=np.float64)
            inf = np.asarray(self._inference, dtype=np.float64)
            out: dict[str, Any] = {}
            for name in ("received", "processed", "dropped", "errors"):
                counter = getattr(self, name)
                out[f"{name}_total"] = sum(counter.values())
                for key, value in sorted(counter.items()):
                    out[f"{name}[{key}]"] = value
            out["latency_last_ms"] = float(lat[-1] * 1e3) if lat.size else float("nan")
            out["latency_mean_ms"] = float(lat.mean() * 1e3) if lat.size else float("nan")
            out["latency_max_ms"] = float(lat.max() * 1e3) if lat.size else float("nan")
            out["inference_mean_ms"] = float(inf.mean() * 1e3) if inf.size else float("nan")
            return out


@dataclass(frozen=True)
class OutputImage:
    """One image to publish: topic (relative to the node, e.g. 'rgb/label'), encoding, array."""

    topic: str
    encoding: str
    array: np.ndarray


# Output kinds per destination modality, in publishing order. Names are documented in
# docs/ROS.md and checked by test_ros_docs.py.
_KINDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (topic leaf, encoding, option that enables it or '' = always)
    "label": (
        ("label", "mono8", ""),
        ("label_color", "rgb8", "publish_color"),
        ("label_overlay", "rgb8", "publish_overlay"),
        ("label_confidence", "32FC1", "publish_confidence"),
    ),
    "depth": (("depth", "32FC1", ""),),
    "rgb": (("rgb", "rgb8", ""),),
}


def output_topics(
    paths: Iterable[tuple[str, str]], options: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(topic, encoding) of every image the node publishes for ``paths`` (plus camera_info)."""
    topics: list[tuple[str, str]] = []
    sources: list[str] = []
    for src, dst in paths:
        for leaf, encoding, option in _KINDS[dst]:
            if option and not options.get(option, False):
                continue
            if leaf == "label_overlay" and src != "rgb":
                continue  # nothing to blend over: the source is not a colour image
            topics.append((f"{src}/{leaf}", encoding))
        if src not in sources:
            sources.append(src)
    topics += [(f"{src}/camera_info", "sensor_msgs/CameraInfo") for src in sources]
    return topics


def camera_info_topic(image_topic: str, suffix: str = "camera_info") -> str:
    """image_transport convention: '/cam/color/image_raw' -> '/cam/color/camera_info'."""
    head, sep, _ = image_topic.rpartition("/")
    return f"{head}{sep}{suffix}"


class FrameProcessor:
    """Runs the engine for one source frame and builds the output arrays of its paths."""

    def __init__(
        self, engine: Any, paths: Sequence[tuple[str, str]], palette: Sequence[Sequence[int]]
    ) -> None:
        self.engine = engine
        self.paths = list(paths)
        self.palette = palette

    def dsts_for(self, src: str) -> list[str]:
        return [dst for s, dst in self.paths if s == src]

    def process(
        self, src: str, array: np.ndarray, options: Mapping[str, Any]
    ) -> list[OutputImage]:
        """Every output of the paths that start at ``src``, at ``array``'s resolution."""
        dsts = self.dsts_for(src)
        if not dsts:
            return []
        results = self.engine.infer(
            {src: array},
            [(src, dst) for dst in dsts],
            min_confidence=float(options.get("min_confidence", 0.0)),
        )
        outputs: list[OutputImage] = []
        for dst in dsts:
            pred = results[(src, dst)]
            if dst == "label":
                outputs += self._label_outputs(src, array, pred, options)
            elif dst == "depth":
                outputs.append(OutputImage(f"{src}/depth", "32FC1", pred.array))
            else:
                outputs.append(OutputImage(f"{src}/{dst}", "rgb8", pred.array))
        return outputs

    def _label_outputs(
        self, src: str, array: np.ndarray, pred: Any, options: Mapping[str, Any]
    ) -> list[OutputImage]:
        ids = pred.array
        out = [OutputImage(f"{src}/label", "mono8", ids)]
        color = None
        if options.get("publish_color", True) or options.get("publish_overlay", False):
            color = colorize(ids, self.palette)
        if options.get("publish_color", True):
            out.append(OutputImage(f"{src}/label_color", "rgb8", color))
        if options.get("publish_overlay", False) and src == "rgb":
            out.append(
                OutputImage(
                    f"{src}/label_overlay",
                    "rgb8",
                    overlay(
                        array,
                        color,
                        float(options.get("overlay_alpha", 0.5)),
                        ids=ids,
                        unknown_id=IGNORE_INDEX,
                    ),
                )
            )
        if options.get("publish_confidence", False):
            out.append(OutputImage(f"{src}/label_confidence", "32FC1", pred.confidence))
        return out


def scale_intrinsics(
    k: Any, p: Any, info_size: tuple[int, int], image_size: tuple[int, int]
) -> tuple[list[float], list[float]]:
    """K (3x3) and P (3x4), row-major, rescaled from camera_info's (W, H) to the image's.

    Drivers sometimes publish camera_info for the full sensor while the image is binned or
    resized; the outputs must carry intrinsics that match their own pixels, or
    depth_image_proc builds a wrongly scaled point cloud. An unset size (0) means no scaling.
    """
    k2, p2 = [float(v) for v in k], [float(v) for v in p]
    (iw, ih), (w, h) = info_size, image_size
    if not iw or not ih or (iw, ih) == (w, h):
        return k2, p2
    sx, sy = w / iw, h / ih
    for mat, cols in ((k2, 3), (p2, 4)):
        for c in range(cols):
            mat[c] *= sx  # row 0: fx, skew, cx (and Tx for P)
            mat[cols + c] *= sy  # row 1: 0, fy, cy (and Ty)
    return k2, p2


def require_metric_depth(config: Any, paths: Iterable[tuple[str, str]], who: str) -> None:
    """Refuse depth paths of a disparity model: REP 118 depth topics are metres."""
    if getattr(config, "depth_units", "m") != "m" and any("depth" in p for p in paths):
        raise ConfigError(
            f"{who}: the model's depth is in '{config.depth_units}', but REP 118 depth images "
            "are metres; drop the paths with depth or use a metric-depth model"
        )
