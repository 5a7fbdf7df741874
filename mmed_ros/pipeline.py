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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.deploy.geometry import Fit
from mmed_core.errors import ConfigError, MmedError
from mmed_core.network.modalities import get_modality
from mmed_ros.conversions import (
    CompressedImageError,
    colorize,
    depth_from_msg,
    mono8_from_msg,
    overlay,
    rgb_from_msg,
)

__all__ = [
    "LatestMailbox",
    "PipelineStats",
    "OutputImage",
    "FrameProcessor",
    "output_topics",
    "transport_topic",
    "TRANSPORTS",
    "DECODERS",
    "camera_info_topic",
    "scale_intrinsics",
    "require_metric_depth",
]

T = TypeVar("T")

# image_transport transports the node subscribes to (raw Image, or CompressedImage on
# <topic>/compressed (jpeg/png) or <topic>/compressedDepth)
TRANSPORTS: tuple[str, ...] = ("raw", "compressed", "compressedDepth")
# Message -> array per source modality; each takes an Image or a CompressedImage.
DECODERS: dict[str, Callable[..., np.ndarray]] = {
    "rgb": rgb_from_msg,
    "depth": depth_from_msg,
    "label": mono8_from_msg,
}


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


# Extra outputs of a categorical destination (class ids), in publishing order: (topic leaf,
# encoding, option that enables it). Every other destination publishes one image named after
# it, in its registry encoding. Names are documented in docs/ROS.md (test_ros_docs.py).
_LABEL_EXTRAS: tuple[tuple[str, str, str], ...] = (
    ("_color", "rgb8", "publish_color"),
    ("_overlay", "rgb8", "publish_overlay"),
    ("_confidence", "32FC1", "publish_confidence"),
)


def _kinds(dst: str) -> tuple[tuple[str, str, str], ...]:
    mod = get_modality(dst)
    if mod.categorical:
        return ((dst, mod.encoding, ""), *((dst + x, e, o) for x, e, o in _LABEL_EXTRAS))
    return ((dst, mod.encoding, ""),)


def transport_topic(topic: str, transport: str) -> str:
    """image_transport's topic for ``transport``: raw -> topic, compressed -> topic/compressed,
    compressedDepth -> topic/compressedDepth."""
    if transport not in TRANSPORTS:
        raise ConfigError(f"transport: expected one of {list(TRANSPORTS)}, got {transport!r}")
    return topic if transport == "raw" else f"{topic.rstrip('/')}/{transport}"


def output_topics(
    paths: Iterable[tuple[str, str]], options: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(topic, encoding) of every image the node publishes for ``paths`` (plus camera_info)."""
    topics: list[tuple[str, str]] = []
    sources: list[str] = []
    for src, dst in paths:
        for leaf, encoding, option in _kinds(dst):
            if option and not options.get(option, False):
                continue
            if leaf.endswith("_overlay") and src != "rgb":
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
    """Decodes one source frame, runs the engine and builds the output arrays of its paths.

    ``corrupt[src]`` counts compressed frames that did not decode (for /diagnostics);
    ``fits[src]`` is how the last frame of ``src`` was fitted to the network, which
    :meth:`camera_info` turns into the outputs' intrinsics.
    """

    def __init__(
        self, engine: Any, paths: Sequence[tuple[str, str]], palette: Sequence[Sequence[int]]
    ) -> None:
        self.engine = engine
        self.paths = list(paths)
        self.palette = palette
        self.corrupt: Counter = Counter()
        self.fits: dict[str, Fit] = {}

    def dsts_for(self, src: str) -> list[str]:
        return [dst for s, dst in self.paths if s == src]

    def decode(self, src: str, msg: Any, max_pixels: int) -> np.ndarray:
        """Image or CompressedImage of source ``src`` -> array; a compressed frame that does not
        decode is counted in ``corrupt[src]`` and re-raised (CompressedImageError)."""
        decoder = DECODERS.get(src)
        if decoder is None:
            raise MmedError(f"source '{src}': no message decoder; sources are {sorted(DECODERS)}")
        try:
            return decoder(msg, max_pixels=max_pixels)
        except CompressedImageError:
            self.corrupt[src] += 1
            raise

    def process(
        self, src: str, array: np.ndarray, options: Mapping[str, Any]
    ) -> list[OutputImage]:
        """Every output of the paths that start at ``src``: at ``array``'s resolution, or the
        network's with ``options['output_size'] == 'network'`` (fitted per ``resize``)."""
        dsts = self.dsts_for(src)
        if not dsts:
            return []
        geometry = {}
        if options.get("resize", "stretch") != "stretch":
            geometry["resize"] = options["resize"]
        if options.get("output_size", "input") != "input":
            geometry["output_size"] = options["output_size"]
        results = self.engine.infer(
            {src: array},
            [(src, dst) for dst in dsts],
            min_confidence=float(options.get("min_confidence", 0.0)),
            **geometry,
        )
        outputs: list[OutputImage] = []
        for dst in dsts:
            pred = results[(src, dst)]
            fit = getattr(pred, "fit", None)
            if fit is not None:
                self.fits[src] = fit
            if get_modality(dst).categorical:
                outputs += self._label_outputs(src, dst, array, pred, options)
            else:
                outputs.append(OutputImage(f"{src}/{dst}", _kinds(dst)[0][1], pred.array))
        return outputs

    def camera_info(
        self,
        src: str,
        k: Any,
        p: Any,
        info_size: tuple[int, int],
        image_size: tuple[int, int],
        output_size: str = "input",
    ) -> tuple[list[float], list[float], tuple[int, int]]:
        """K, P and (width, height) of the outputs of ``src``'s last frame.

        ``info_size`` / ``image_size`` are (W, H) of the camera_info and of the input image:
        intrinsics are first rescaled to the image (:func:`scale_intrinsics`), then mapped to
        the network frame when outputs are at the network's size.
        """
        k2, p2 = scale_intrinsics(k, p, info_size, image_size)
        fit = self.fits.get(src)
        if fit is None or output_size == "input":
            return k2, p2, image_size
        k3, p3 = fit.intrinsics(k2, p2, output_size)
        h, w = fit.output_size(output_size)
        return k3, p3, (w, h)

    def _label_outputs(
        self, src: str, dst: str, array: np.ndarray, pred: Any, options: Mapping[str, Any]
    ) -> list[OutputImage]:
        ids = pred.array
        out = [OutputImage(f"{src}/{dst}", "mono8", ids)]
        color = (
            colorize(ids, self.palette)
            if (options.get("publish_color", True) or options.get("publish_overlay", False))
            else np.zeros((0, 0, 3), np.uint8)
        )
        if options.get("publish_color", True):
            out.append(OutputImage(f"{src}/{dst}_color", "rgb8", color))
        if (
            options.get("publish_overlay", False)
            and src == "rgb"
            and array.shape[:2] == ids.shape[:2]
        ):
            out.append(
                OutputImage(
                    f"{src}/{dst}_overlay",
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
        elif options.get("publish_overlay", False) and src == "rgb":
            small = getattr(pred, "fit", None)
            if small is not None:  # outputs at network size: blend over the fitted input
                fitted, _ = small.to_network(np.asarray(array), "area", 0)
                out.append(
                    OutputImage(
                        f"{src}/{dst}_overlay",
                        "rgb8",
                        overlay(
                            np.ascontiguousarray(fitted, np.uint8),
                            color,
                            float(options.get("overlay_alpha", 0.5)),
                            ids=ids,
                            unknown_id=IGNORE_INDEX,
                        ),
                    )
                )
        if options.get("publish_confidence", False):
            conf = pred.confidence
            if conf is not None:  # unknown where the label is (the engine masks it too)
                conf = np.where(ids == IGNORE_INDEX, np.float32(np.nan), conf).astype(np.float32)
            out.append(OutputImage(f"{src}/{dst}_confidence", "32FC1", conf))
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
