# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed-bag: write rosbag2 recordings and evaluate a checkpoint over one, without a ROS install.

    mmed-bag make runs/synthetic_bag --frames 60 --size 240 320 --storage mcap --distro humble
    mmed-bag make runs/nyu_bag --dataset nyudv2 --split test --root nyu_depth_v2_labeled.mat
    mmed-bag eval runs/synthetic_bag --weights runs/demo/best.safetensors --out runs/estimates_bag
    mmed-bag make runs/jpeg_bag --rgb-format jpeg --depth-format compressedDepth
    mmed-bag eval runs/jpeg_bag --weights w.safetensors \
        --rgb-topic /camera/color/image_raw/compressed \
        --depth-topic /camera/depth/image_raw/compressedDepth
    mmed-bag adapt robot_bag --weights w.safetensors --out runs/cam.safetensors
    mmed-bag play runs/synthetic_bag --rate 1.0     (needs rclpy; see mmed_ros.bag_player)

Reads and writes through the ``rosbags`` library (standard rosbag2 layout and metadata.yaml, so
``ros2 bag info`` / ``ros2 bag play`` and Foxglove open the result); only ``play`` imports
rclpy, and only when it runs. ``adapt`` is ``mmed-adapt`` on the camera frames of a recording
(mmed_core.deploy.adapt: the BatchNorm statistics of the model re-estimated from them).
Topics of ``make`` (REP 118 depth, image_transport camera_info names):

    /camera/color/image_raw  rgb8     /camera/color/camera_info
    /camera/depth/image_raw  32FC1 m (or 16UC1 mm)   /camera/depth/camera_info
    /gt/label  mono8 class ids, 255 = unknown         /gt/depth  32FC1 m
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from mmed_core.cli.console import console_main
from mmed_core.cli.options import add_option_argument, parse_options
from mmed_core.deploy.geometry import OUTPUT_SIZES, RESIZE_MODES
from mmed_core.errors import MmedError
from mmed_core.imagefile import encode_depth
from mmed_ros import conversions
from mmed_ros.bag_player import play_bag
from mmed_ros.errors import BagError, as_bag_error, bag_messages

__all__ = [
    "main",
    "build_parser",
    "write_synthetic_bag",
    "evaluate_bag",
    "bag_frames",
    "typestore_for",
    "TOPICS",
    "ESTIMATE_PREFIX",
]

TOPICS = {
    "rgb": "/camera/color/image_raw",
    "rgb_info": "/camera/color/camera_info",
    "depth": "/camera/depth/image_raw",
    "depth_info": "/camera/depth/camera_info",
    "gt_label": "/gt/label",
    "gt_depth": "/gt/depth",
}
# Estimates go where perception_node (node name 'perception', root namespace) publishes them,
# so RViz configs and evaluator_node defaults work on a live run and on an eval bag alike.
ESTIMATE_PREFIX = "/perception"
_START_NS = 1_700_000_000 * 10**9  # fixed start: the same arguments give the same bag
_IMAGE = "sensor_msgs/msg/Image"
_COMPRESSED = "sensor_msgs/msg/CompressedImage"
_INFO = "sensor_msgs/msg/CameraInfo"
# image_transport formats `make` can write: raw Images, or CompressedImage on <topic>/compressed
# (jpeg / png) and <depth topic>/compressedDepth
RGB_FORMATS = ("raw", "jpeg", "png")
DEPTH_FORMATS = ("raw", "compressedDepth")
# rosbag2 metadata versions: Humble and Jazzy read 8; Kilted writes 9 (QoS as a YAML list).
_DISTROS = {"humble": 8, "iron": 8, "jazzy": 8, "kilted": 9, "rolling": 9}


def typestore_for(distro: str) -> tuple[Any, int]:
    """(rosbags typestore, rosbag2 metadata version) for a ROS 2 distribution name."""

    name = distro.lower()
    if name not in _DISTROS:
        raise BagError(f"distro: expected one of {sorted(_DISTROS)}, got {distro!r}")
    store = Stores.LATEST if name == "rolling" else getattr(Stores, f"ROS2_{name.upper()}")
    return get_typestore(store), _DISTROS[name]


class _BagOut:
    """A rosbags Writer that becomes visible at ``path`` only when it closes without error."""

    def __init__(self, path: Path, storage: str, distro: str, force: bool) -> None:

        if path.exists() and not force:
            raise BagError(f"output bag {path}: already exists (pass --force to replace it)")
        if storage not in ("mcap", "sqlite3"):
            raise BagError(f"storage: expected 'mcap' or 'sqlite3', got {storage!r}")
        self.path, self.force = path, force
        self.typestore, version = typestore_for(distro)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(self._tmp / path.name, version=version, storage_plugin=plugin)
        self._conns: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> _BagOut:
        self.writer.open()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            self.writer.close()
            if exc_type is None:
                if self.path.exists():
                    shutil.rmtree(self.path)
                os.replace(self._tmp / self.path.name, self.path)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._conns[topic] = self.writer.add_connection(
                topic, msg.__msgtype__, typestore=self.typestore
            )
        self.writer.write(conn, stamp_ns, self.typestore.serialize_cdr(msg, msg.__msgtype__))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def write_raw(self, topic: str, msgtype: str, rawdata: bytes, stamp_ns: int) -> None:
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._conns[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.typestore
            )
        self.writer.write(conn, stamp_ns, rawdata)
        self.counts[topic] = self.counts.get(topic, 0) + 1


def _header(ts: Any, stamp_ns: int, frame_id: str) -> Any:
    Header = ts.types["std_msgs/msg/Header"]
    sec, nanosec = conversions.ns_to_stamp(stamp_ns)
    return Header(
        stamp=ts.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def image_msg(ts: Any, array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    """A rosbags sensor_msgs/Image holding ``array`` in ``encoding``."""
    return conversions.image_msg(
        ts.types[_IMAGE], array, encoding, _header(ts, stamp_ns, frame_id)
    )


def compressed_msg(ts: Any, fields: dict[str, Any], stamp_ns: int, frame_id: str) -> Any:
    """A rosbags sensor_msgs/CompressedImage from :func:`conversions.compressed_fields` or
    :func:`conversions.compressed_depth_fields` output."""
    return ts.types[_COMPRESSED](
        header=_header(ts, stamp_ns, frame_id),
        format=fields["format"],
        data=np.asarray(fields["data"], dtype=np.uint8),
    )


def camera_info_msg(
    ts: Any, K: np.ndarray, width: int, height: int, stamp_ns: int, frame_id: str
) -> Any:
    """A rosbags sensor_msgs/CameraInfo for an undistorted pinhole camera with matrix ``K``."""
    k = np.asarray(K, dtype=np.float64).reshape(3, 3)
    p = np.zeros((3, 4), np.float64)
    p[:, :3] = k
    roi = ts.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return ts.types[_INFO](
        header=_header(ts, stamp_ns, frame_id),
        height=height,
        width=width,
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=k.reshape(-1),
        r=np.eye(3).reshape(-1),
        p=p.reshape(-1),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def _synthetic_frames(
    n: int, height: int, width: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]]:
    """(rgb, depth m, label, K) along one smooth camera path through a synthetic room."""
    from mmed_core.data.synthetic import generate_frames

    for f in generate_frames(n, height=height, width=width, seed=seed, sequence=True):
        yield f.rgb, f.depth, f.label, f.K


def _dataset_frames(
    name: str,
    split: str,
    root: str | None,
    n: int,
    size: tuple[int, int],
    seed: int,
    options: dict | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]]:
    """(rgb, depth m or None, label or None, K) of the first ``n`` samples of a dataset split.

    Real datasets come at their native resolution; their intrinsics are not in the samples, so
    K is the NYUDv2 pinhole scaled to the image (right for NYUDv2, approximate elsewhere).
    """
    from mmed_core.data import build_source
    from mmed_core.data.synthetic import intrinsics

    source = build_source(
        name,
        split,
        root=root,
        size=size,
        options={"seed": seed, "progress": False, **(options or {})},
    )
    metric = source.info.depth_units == "m"
    if not metric:
        print(
            f"note: {name} depth is in {source.info.depth_units!r}, not metres: the bag gets "
            "no depth topics (REP 118 depth is metres)",
            file=sys.stderr,
        )
    for index in range(min(n, len(source))):
        rgb, depth, label = source.load(index)
        h, w = rgb.shape[:2]
        yield rgb, depth if metric else None, label, intrinsics(h, w)


def write_synthetic_bag(
    path: str | os.PathLike[str],
    *,
    frames: int = 60,
    size: tuple[int, int] = (240, 320),
    seed: int = 0,
    rate: float = 10.0,
    storage: str = "mcap",
    distro: str = "humble",
    depth_encoding: str = "32FC1",
    frame_id: str = "camera_optical_frame",
    force: bool = False,
    dataset: str | None = None,
    split: str = "test",
    root: str | None = None,
    options: dict | None = None,
    rgb_format: str = "raw",
    depth_format: str = "raw",
) -> dict[str, int]:
    """Write an RGB-D sequence with ground truth; return message counts per topic.

    Default: a synthetic trajectory. ``dataset`` (synthetic / nyudv2 / cityscapes) writes the
    first ``frames`` samples of ``split`` instead, one per 1/``rate`` s (``options``: the
    dataset's options, e.g. ``{"class_map": "nyu40_to_nyu12"}`` for ``labelled``).
    ``rgb_format`` jpeg / png and ``depth_format`` compressedDepth write the inputs as
    image_transport does
    (CompressedImage on ``<topic>/compressed`` / ``<topic>/compressedDepth``), as most
    recorded bags hold them; ground truth stays raw.
    """
    if rgb_format not in RGB_FORMATS or depth_format not in DEPTH_FORMATS:
        raise BagError(
            f"formats: expected rgb in {list(RGB_FORMATS)} and depth in "
            f"{list(DEPTH_FORMATS)}, got {rgb_format!r} and {depth_format!r}"
        )
    if frames < 1 or rate <= 0:
        raise BagError(f"make: expected frames >= 1 and rate > 0, got {frames} and {rate}")
    if depth_encoding not in ("32FC1", "16UC1"):
        raise BagError(
            f"depth encoding: expected '32FC1' (m) or '16UC1' (mm), got {depth_encoding!r}"
        )
    source = (
        _dataset_frames(dataset, split, root, frames, size, seed, options)
        if dataset
        else _synthetic_frames(frames, size[0], size[1], seed)
    )
    with _BagOut(Path(path), storage, distro, force) as bag:
        for i, frame in enumerate(source):
            _write_frame(
                bag,
                _START_NS + int(round(i * 1e9 / rate)),
                frame,
                depth_encoding,
                frame_id,
                (rgb_format, depth_format),
            )
        if not bag.counts:
            raise BagError(f"make: the source gave no frames ({dataset or 'synthetic'} {split})")
        return dict(bag.counts)


def _write_frame(
    bag: _BagOut,
    stamp: int,
    frame: tuple,
    depth_encoding: str,
    frame_id: str,
    formats: tuple[str, str] = ("raw", "raw"),
) -> None:
    """One time step: RGB, depth, ground truth and camera_info, all with the same stamp."""
    ts = bag.typestore
    rgb, depth, label, K = frame
    h, w = rgb.shape[:2]
    info = camera_info_msg(ts, K, w, h, stamp, frame_id)
    if formats[0] == "raw":
        bag.write(TOPICS["rgb"], image_msg(ts, rgb, "rgb8", stamp, frame_id), stamp)
    else:
        fields = conversions.compressed_fields(rgb, "rgb8", formats[0])
        bag.write(
            f"{TOPICS['rgb']}/compressed", compressed_msg(ts, fields, stamp, frame_id), stamp
        )
    bag.write(TOPICS["rgb_info"], info, stamp)
    if depth is not None:
        # Sensors report 'no return' as NaN (32FC1) or 0 (16UC1); datasets use 0 or less.
        metres = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)
        sensor = encode_depth(metres, "m") if depth_encoding == "16UC1" else metres
        if formats[1] == "raw":
            msg = image_msg(ts, sensor, depth_encoding, stamp, frame_id)
            bag.write(TOPICS["depth"], msg, stamp)
        else:
            fields = conversions.compressed_depth_fields(sensor, depth_encoding)
            msg = compressed_msg(ts, fields, stamp, frame_id)
            bag.write(f"{TOPICS['depth']}/compressedDepth", msg, stamp)
        bag.write(TOPICS["depth_info"], info, stamp)
        bag.write(TOPICS["gt_depth"], image_msg(ts, metres, "32FC1", stamp, frame_id), stamp)
    if label is not None:
        ids = np.asarray(label)
        bag.write(
            TOPICS["gt_label"],
            image_msg(ts, ids.astype(np.uint8), "mono8", stamp, frame_id),
            stamp,
        )


def _base_topic(topic: str) -> str:
    """'/cam/image_raw/compressed' -> '/cam/image_raw' (image_transport's transport suffix)."""
    for suffix in ("/compressed", "/compressedDepth"):
        if topic.endswith(suffix):
            return topic[: -len(suffix)]
    return topic


def evaluate_bag(
    bag: str | os.PathLike[str],
    engine: Any,
    *,
    paths: Sequence[tuple[str, str]],
    topics: dict[str, str] | None = None,
    out: str | os.PathLike[str] | None = None,
    storage: str = "mcap",
    distro: str = "humble",
    tolerance_s: float = 0.001,
    force: bool = False,
    resize_truth: bool = False,
    resize: str = "stretch",
    output_size: str = "input",
) -> dict[str, Any]:
    """Run ``engine`` over a bag's source images; metrics per source (and an estimates bag).

    ``topics`` overrides :data:`TOPICS` entries (rgb, depth, gt_label, gt_depth); a source
    topic may be an Image or a CompressedImage topic (e.g. '/cam/image_raw/compressed'), and
    may also be a ground-truth topic (a depth input scored as depth truth). Ground truth at
    another resolution than the estimates is skipped (counted in 'skipped') unless
    ``resize_truth`` resizes it to the estimate's (nearest for ids, valid-pixel averaging for
    depth). ``resize`` / ``output_size`` fit the inputs as the node does. The estimates bag
    gets each source's camera_info, matched to the outputs, under /perception/<src>/.
    Returns {src: ReplayEvaluation.results()}, 'frames' (images processed per source) and
    'notes' (why something was not scored, for the user to read).
    """

    from mmed_ros.evaluation import ReplayEvaluation, StampMatcher
    from mmed_ros.pipeline import FrameProcessor, camera_info_topic, require_metric_depth

    names = {**TOPICS, **(topics or {})}
    paths = engine.check_paths(paths)
    require_metric_depth(engine.config, paths, "mmed-bag eval")
    sources = {s for s, _ in paths}
    unknown = sources - {"rgb", "depth"}
    if unknown:
        raise BagError(
            f"paths: sources {sorted(unknown)} have no input topic in a bag; use "
            "rgb or depth sources"
        )
    processor = FrameProcessor(engine, paths, engine.config.palette)
    options = {
        "publish_color": True,
        "publish_overlay": True,
        "publish_confidence": False,
        "resize": resize,
        "output_size": output_size,
    }
    evals = {
        src: ReplayEvaluation(engine.config.class_names, resize_truth=resize_truth)
        for src in sources
    }
    tol = int(tolerance_s * 1e9)
    matchers: dict[tuple[str, str], StampMatcher[np.ndarray]] = {
        (src, kind): StampMatcher(tolerance_ns=tol, max_pending=1000)
        for src in sources
        for kind in ("label", "depth")
    }
    truth_topics = {names["gt_label"]: "label", names["gt_depth"]: "depth"}
    source_topics = {names[src]: src for src in sources}
    info_topics = {camera_info_topic(_base_topic(names[src])): src for src in sources}
    infos: dict[str, Any] = {}
    waiting: dict[str, tuple[tuple[int, ...], int, int]] = {}  # frames still without an info
    frames = dict.fromkeys(sorted(sources), 0)
    bag_path = Path(bag)
    if not (bag_path / "metadata.yaml").is_file():
        raise BagError(f"bag {bag_path}: expected a rosbag2 directory with metadata.yaml")
    ts, _ = typestore_for(distro)
    present: set[str] = set()
    try:
        # Exit order: the reader closes first; the output bag appears only if all went well.
        with contextlib.ExitStack() as stack:
            writer = (
                stack.enter_context(_BagOut(Path(out), storage, distro, force)) if out else None
            )
            with as_bag_error(bag_path, "opening it"):
                reader = stack.enter_context(AnyReader([bag_path], default_typestore=ts))
                present = {c.topic for c in reader.connections}
            missing = [t for t in source_topics if t not in present]
            if missing:
                raise BagError(
                    f"bag {bag_path}: source topic(s) {missing} not found; it has "
                    f"{sorted(present)}"
                )
            for conn, bag_ns, raw in bag_messages(reader, bag_path):
                if writer:
                    writer.write_raw(conn.topic, conn.msgtype, raw, bag_ns)
                wanted = (
                    conn.topic in source_topics
                    or conn.topic in truth_topics
                    or conn.topic in info_topics
                )
                if not wanted:
                    continue
                with as_bag_error(bag_path, f"decoding a {conn.msgtype} on {conn.topic}"):
                    msg: Any = reader.deserialize(raw, conn.msgtype)
                if conn.topic in info_topics:
                    src = info_topics[conn.topic]
                    infos[src] = msg
                    if writer and src in waiting:  # its image came first: write it now
                        shape, stamp, ns = waiting.pop(src)
                        writer.write(
                            f"{ESTIMATE_PREFIX}/{src}/camera_info",
                            _output_info(
                                writer.typestore, processor, src, msg, shape, stamp, output_size
                            ),
                            ns,
                        )
                    continue
                stamp = conversions.msg_stamp_ns(msg)
                if conn.topic in truth_topics:
                    kind = truth_topics[conn.topic]
                    truth = (
                        conversions.mono8_from_msg(msg)
                        if kind == "label"
                        else conversions.depth_from_msg(msg)
                    )
                    for src in sources:
                        _score(evals[src], kind, matchers[(src, kind)].add("truth", stamp, truth))
                if conn.topic not in source_topics:
                    continue
                src = source_topics[conn.topic]
                image = processor.decode(src, msg, conversions.DEFAULT_MAX_PIXELS)
                outputs = processor.process(src, image, options)
                frames[src] += 1
                frame_id = msg.header.frame_id
                for o in outputs:
                    if writer:
                        writer.write(
                            f"{ESTIMATE_PREFIX}/{o.topic}",
                            image_msg(writer.typestore, o.array, o.encoding, stamp, frame_id),
                            bag_ns,
                        )
                    leaf = o.topic.split("/")[-1]
                    if leaf in ("label", "depth"):
                        _score(
                            evals[src], leaf, matchers[(src, leaf)].add("estimate", stamp, o.array)
                        )
                if writer and src in infos:
                    writer.write(
                        f"{ESTIMATE_PREFIX}/{src}/camera_info",
                        _output_info(
                            writer.typestore,
                            processor,
                            src,
                            infos[src],
                            image.shape,
                            stamp,
                            output_size,
                        ),
                        bag_ns,
                    )
                elif writer:
                    waiting[src] = (image.shape, stamp, bag_ns)
    except (AnyReaderError, ReaderError) as exc:
        raise BagError(f"bag {bag_path}: cannot be read ({exc})") from exc
    results: dict[str, Any] = {src: ev.results() for src, ev in evals.items()}
    results["frames"] = frames
    results["notes"] = _notes(results, paths, names, present, resize_truth)
    return results


def bag_frames(
    bag: str | os.PathLike[str],
    topics: dict[str, str],
    *,
    distro: str = "humble",
    tolerance_s: float = 0.001,
    every: int = 1,
    max_frames: int | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The frames of a bag's source topics (``topics``: source -> Image or CompressedImage
    topic), each a mapping source -> array as the node decodes it (RGB uint8, depth in metres).
    With two sources, a frame is a pair whose header stamps differ by at most ``tolerance_s``;
    an image without a partner is skipped. Every ``every``-th frame is kept, at most
    ``max_frames``. ``counts`` (if given) receives 'messages', 'frames' and 'unpaired'."""
    from mmed_ros.evaluation import StampMatcher
    from mmed_ros.pipeline import DECODERS

    if every < 1:
        raise BagError(f"every: expected >= 1, got {every}")
    if max_frames is not None and max_frames < 1:
        raise BagError(f"max frames: expected >= 1, got {max_frames}")
    if not 1 <= len(topics) <= 2:
        raise BagError(f"topics: expected one or two sources, got {sorted(topics)}")
    unknown = sorted(set(topics) - {"rgb", "depth"})
    if unknown:
        raise BagError(f"sources {unknown}: a bag gives rgb and depth images only")
    bag_path = Path(bag)
    if not (bag_path / "metadata.yaml").is_file():
        raise BagError(f"bag {bag_path}: expected a rosbag2 directory with metadata.yaml")
    by_topic = {t: src for src, t in topics.items()}
    first = sorted(topics)[0]
    matcher: StampMatcher[tuple[str, np.ndarray]] = StampMatcher(
        tolerance_ns=int(tolerance_s * 1e9), max_pending=1000
    )
    stats = counts if counts is not None else {}
    stats.update(messages=0, frames=0, unpaired=0)
    seen = 0
    ts, _ = typestore_for(distro)
    try:
        with as_bag_error(bag_path, "opening it"):
            reader = AnyReader([bag_path], default_typestore=ts)
            reader.open()
        try:
            present = {c.topic for c in reader.connections}
            missing = [t for t in by_topic if t not in present]
            if missing:
                raise BagError(
                    f"bag {bag_path}: topic(s) {missing} not found; it has {sorted(present)}"
                )
            wanted = [c for c in reader.connections if c.topic in by_topic]
            for conn, _ns, raw in bag_messages(reader, bag_path, connections=wanted):
                src = by_topic[conn.topic]
                with as_bag_error(bag_path, f"decoding a {conn.msgtype} on {conn.topic}"):
                    msg: Any = reader.deserialize(raw, conn.msgtype)
                image = DECODERS[src](msg, max_pixels=conversions.DEFAULT_MAX_PIXELS)
                stats["messages"] += 1
                if len(topics) == 1:
                    frame = {src: image}
                else:
                    stream = "estimate" if src == first else "truth"
                    pair = matcher.add(stream, conversions.msg_stamp_ns(msg), (src, image))
                    if pair is None:
                        continue
                    frame = dict(pair)
                seen += 1
                if (seen - 1) % every:
                    continue
                stats["frames"] += 1
                yield frame
                if max_frames is not None and stats["frames"] >= max_frames:
                    return
        finally:
            reader.close()
    except (AnyReaderError, ReaderError) as exc:
        raise BagError(f"bag {bag_path}: cannot be read ({exc})") from exc
    finally:
        if len(topics) == 2:
            stats["unpaired"] = matcher.pending("estimate") + matcher.pending("truth")
            stats["unpaired"] += matcher.expired


def _output_info(
    ts: Any,
    processor: Any,
    src: str,
    info: Any,
    shape: tuple[int, ...],
    stamp: int,
    output_size: str,
) -> Any:
    """The source's CameraInfo with the size and intrinsics of its outputs."""
    k, p, (width, height) = processor.camera_info(
        src,
        info.k,
        info.p,
        (int(info.width), int(info.height)),
        (int(shape[1]), int(shape[0])),
        output_size,
    )
    roi = ts.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return ts.types[_INFO](
        header=_header(ts, stamp, info.header.frame_id),
        height=height,
        width=width,
        distortion_model=info.distortion_model,
        d=np.asarray(info.d, dtype=np.float64),
        k=np.asarray(k, dtype=np.float64),
        r=np.asarray(info.r, dtype=np.float64),
        p=np.asarray(p, dtype=np.float64),
        binning_x=int(info.binning_x),
        binning_y=int(info.binning_y),
        roi=roi,
    )


def _notes(
    results: dict[str, Any],
    paths: Sequence[tuple[str, str]],
    names: dict[str, str],
    present: set[str],
    resize_truth: bool,
) -> list[str]:
    """Why a path scored nothing, in words (printed by ``mmed-bag eval``)."""
    notes = []
    for src, dst in paths:
        if dst not in ("label", "depth") or not results["frames"].get(src):
            continue
        res = results[src]
        if res[f"{dst}_pairs"]:
            continue
        truth = names[f"gt_{dst}"]
        if truth not in present:
            why = f"the ground-truth topic {truth} is not in the bag"
        elif any(f"{dst} size" in k for k in res["skipped"]):
            why = "the ground truth has another resolution" + (
                "" if resize_truth else " (pass --resize-truth to resize it)"
            )
        else:
            why = "no estimate had a ground-truth stamp within --tolerance"
        notes.append(f"{src}->{dst}: 0 of {results['frames'][src]} frames scored: {why}")
    return notes


def _score(evaluation: Any, kind: str, pair: tuple[np.ndarray, np.ndarray] | None) -> None:
    if pair is None:
        return
    if kind == "label":
        evaluation.add_label(*pair)
    else:
        evaluation.add_depth(*pair)


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmed-bag", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--storage",
        choices=("mcap", "sqlite3"),
        default="mcap",
        help="rosbag2 storage plugin of the bag written (default mcap)",
    )
    common.add_argument(
        "--distro",
        default=os.environ.get("ROS_DISTRO", "humble"),
        choices=sorted(_DISTROS),
        help="ROS 2 distribution whose message definitions and bag format to "
        "use (default $ROS_DISTRO or humble)",
    )
    common.add_argument("--force", action="store_true", help="replace an existing output bag")

    make = sub.add_parser(
        "make",
        parents=[common],
        help="write a synthetic RGB-D trajectory (or a dataset split) with ground truth",
    )
    make.add_argument("out", help="output bag directory")
    make.add_argument("--frames", type=int, default=60)
    make.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(240, 320))
    make.add_argument("--rate", type=float, default=10.0, help="frames per second")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--depth-encoding", choices=("32FC1", "16UC1"), default="32FC1")
    make.add_argument(
        "--dataset",
        choices=("synthetic", "nyudv2", "cityscapes", "labelled"),
        help="write samples of a dataset split instead of a synthetic trajectory",
    )
    make.add_argument("--split", default="test", help="dataset split (with --dataset)")
    make.add_argument(
        "--root",
        help="dataset file or folder (nyudv2 .mat, cityscapes root, labelled: rgb/ + label*/)",
    )
    add_option_argument(make, "class_map=nyu40_to_nyu12")
    make.add_argument(
        "--rgb-format",
        choices=RGB_FORMATS,
        default="raw",
        help="raw Image, or CompressedImage jpeg/png on <rgb topic>/compressed (default raw)",
    )
    make.add_argument(
        "--depth-format",
        choices=DEPTH_FORMATS,
        default="raw",
        help="raw Image, or CompressedImage on <depth topic>/compressedDepth (default raw)",
    )

    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="run a checkpoint over a bag, print metrics, write estimates",
    )
    ev.add_argument("bag", help="input bag directory")
    ev.add_argument("--weights", required=True, help="checkpoint .safetensors (+ .json card)")
    ev.add_argument("--out", help="write inputs + estimates to this new bag")
    ev.add_argument(
        "--paths",
        default="rgb->label,rgb->depth",
        help="comma-separated SRC->DST paths (default rgb->label,rgb->depth)",
    )
    ev.add_argument("--device", default="auto")
    ev.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ev.add_argument("--cpu-fallback", action="store_true")
    for key in ("rgb", "depth", "gt_label", "gt_depth"):
        ev.add_argument(
            f"--{key.replace('_', '-')}-topic", dest=f"topic_{key}", default=TOPICS[key]
        )
    ev.add_argument(
        "--tolerance",
        type=float,
        default=0.001,
        help="largest stamp difference (s) between estimate and ground truth",
    )
    ev.add_argument("--json", help="write the metrics to this JSON file")
    ev.add_argument(
        "--resize-truth",
        action="store_true",
        help="resize ground truth of another resolution to the estimates' (nearest for "
        "labels, valid-pixel averaging for depth) instead of skipping it",
    )
    ev.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default="stretch",
        help="how inputs are fitted to the network (as the node's 'resize' parameter)",
    )
    ev.add_argument(
        "--output-size",
        choices=OUTPUT_SIZES,
        default="input",
        help="estimates at the input's or the network's resolution (ground truth must match, "
        "or use --resize-truth)",
    )

    ad = sub.add_parser(
        "adapt",
        help="adapt a checkpoint to the camera of a bag (BatchNorm statistics; no labels)",
        description="Re-estimate the BatchNorm statistics of a checkpoint's paths from the "
        "camera frames of a bag and write the adapted checkpoint (docs/SIM2REAL.md, "
        '"Adapting to your camera").',
    )
    ad.add_argument("bag", help="input bag directory")
    ad.add_argument("--weights", required=True, help="checkpoint .safetensors (+ .json card)")
    ad.add_argument("--out", required=True, help="adapted checkpoint to write (+ .json card)")
    ad.add_argument(
        "--paths",
        default="rgb->label",
        help="comma-separated SRC->DST paths to adapt (default rgb->label; a depth source "
        "pairs each depth image with the RGB image of the same stamp)",
    )
    for key in ("rgb", "depth"):
        ad.add_argument(f"--{key}-topic", dest=f"topic_{key}", default=TOPICS[key])
    ad.add_argument(
        "--tolerance",
        type=float,
        default=0.001,
        help="largest stamp difference (s) of an RGB and a depth image of one frame",
    )
    ad.add_argument("--every", type=int, default=1, help="use every N-th frame (default 1)")
    ad.add_argument("--max-frames", type=int, help="use at most this many frames")
    ad.add_argument("--batch-size", type=int, default=16, help="frames per forward pass")
    ad.add_argument("--resize", choices=RESIZE_MODES, default="stretch", help="as the node's")
    ad.add_argument("--device", default="auto")
    ad.add_argument(
        "--distro", default=os.environ.get("ROS_DISTRO", "humble"), choices=sorted(_DISTROS)
    )
    ad.add_argument("--force", action="store_true", help="replace an existing OUT")

    play = sub.add_parser("play", help="publish a bag over DDS (for machines without ros2 bag)")
    play.add_argument("bag", help="input bag directory")
    play.add_argument("--rate", type=float, default=1.0, help="speed factor (default 1.0)")
    play.add_argument("--topics", nargs="+", help="only these topics (default: all)")
    play.add_argument(
        "--wait-for",
        metavar="TOPIC",
        nargs="+",
        help="start once every TOPIC has a subscriber (so no frame is lost to discovery)",
    )
    play.add_argument("--wait-timeout", type=float, default=10.0, help="seconds (default 10)")
    play.add_argument(
        "--delay",
        type=float,
        default=0.5,
        help="seconds to wait before the first message, after --wait-for "
        "(default 0.5); longer lets downstream nodes discover each other",
    )
    play.add_argument(
        "--clock",
        action="store_true",
        help="also publish the recorded time on /clock (for nodes with use_sim_time)",
    )
    return parser


def _cmd_make(args: argparse.Namespace) -> int:
    counts = write_synthetic_bag(
        args.out,
        frames=args.frames,
        size=tuple(args.size),
        seed=args.seed,
        rate=args.rate,
        storage=args.storage,
        distro=args.distro,
        depth_encoding=args.depth_encoding,
        force=args.force,
        dataset=args.dataset,
        split=args.split,
        root=args.root,
        options=parse_options(args.option),
        rgb_format=args.rgb_format,
        depth_format=args.depth_format,
    )
    print(f"wrote {args.out} ({args.storage}, {args.distro}):")
    for topic, n in counts.items():
        print(f"  {topic}: {n}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from mmed_core.atomic import atomic_write_json
    from mmed_core.deploy.inference import InferenceEngine
    from mmed_ros.evaluation import format_report
    from mmed_ros.params import parse_paths

    try:
        paths = parse_paths([p for p in args.paths.split(",") if p.strip()])
    except ValueError as exc:
        raise BagError(f"--paths: {exc}") from exc
    engine = InferenceEngine.from_checkpoint(
        args.weights,
        device=args.device,
        precision=args.precision,
        cpu_fallback=args.cpu_fallback,
        warn=lambda m: print(f"warning: {m}", file=sys.stderr),
    )
    print(f"model: {engine.describe()}")
    topics = {k: getattr(args, f"topic_{k}") for k in ("rgb", "depth", "gt_label", "gt_depth")}
    results = evaluate_bag(
        args.bag,
        engine,
        paths=paths,
        topics=topics,
        out=args.out,
        storage=args.storage,
        distro=args.distro,
        tolerance_s=args.tolerance,
        force=args.force,
        resize_truth=args.resize_truth,
        resize=args.resize,
        output_size=args.output_size,
    )
    for note in results["notes"]:
        print(f"note: {note}", file=sys.stderr)
    for src in sorted(k for k in results if k not in ("frames", "notes")):
        print(format_report(results[src], title=f"{src} -> * ({results['frames'][src]} frames)"))
    if args.out:
        print(f"estimates written to {args.out}")
    if args.json:
        atomic_write_json(args.json, results)
    return 0


def _cmd_adapt(args: argparse.Namespace) -> int:
    from mmed_core.cli.adapt import adaptation_engine, check_out, save_adapted
    from mmed_core.deploy.adapt import adaptation_record
    from mmed_ros.params import parse_paths

    try:
        paths = parse_paths([p for p in args.paths.split(",") if p.strip()])
    except ValueError as exc:
        raise BagError(f"--paths: {exc}") from exc
    if args.batch_size < 1:
        raise BagError(f"--batch-size: expected >= 1, got {args.batch_size}")
    out = check_out(args.out, args.weights, args.force)
    engine = adaptation_engine(args.weights, args.device, "")
    paths = engine.check_paths(paths)
    topics = {
        src: getattr(args, f"topic_{src}", None) for src in dict.fromkeys(s for s, _ in paths)
    }
    missing = [src for src, topic in topics.items() if topic is None]
    if missing:
        raise BagError(f"--paths: sources {missing} have no topic in a bag; use rgb or depth")
    counts: dict[str, int] = {}
    frames = bag_frames(
        args.bag,
        topics,  # type: ignore[arg-type]
        distro=args.distro,
        tolerance_s=args.tolerance,
        every=args.every,
        max_frames=args.max_frames,
        counts=counts,
    )
    result = engine.adapt(frames, paths, resize=args.resize, batch_size=args.batch_size)
    source = f"bag {args.bag}: " + ", ".join(f"{s} {t}" for s, t in topics.items())
    record = adaptation_record(
        result, source=source, resize=args.resize, base=engine.card, base_path=str(args.weights)
    )
    save_adapted(out, engine, record)
    unpaired = f", {counts['unpaired']} images without a partner" if counts.get("unpaired") else ""
    print(
        f"adapted {len(result.modules)} BatchNorm layers of "
        f"{', '.join(f'{s}->{d}' for s, d in paths)} to {result.frames} frames of {args.bag} "
        f"({counts.get('messages', 0)} images read{unpaired}); wrote {out} (+ .json)"
    )
    return 0


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mmed-bag``; returns the exit code (1 on a bad input, with its reason)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "play":
            play_bag(
                args.bag,
                rate=args.rate,
                topics=args.topics,
                wait_for=args.wait_for,
                wait_timeout=args.wait_timeout,
                delay=args.delay,
                clock=args.clock,
            )
            return 0
        commands = {"make": _cmd_make, "eval": _cmd_eval, "adapt": _cmd_adapt}
        return commands[args.command](args)
    except MmedError as exc:
        print(f"mmed-bag {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
