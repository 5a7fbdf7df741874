# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Replay a rosbag2 over DDS without the ros2 CLI: `mmed-bag play` (rclpy + rosbags).

    mmed-bag play runs/bag --rate 1.0 --wait-for /camera/color/image_raw

Where ``ros2 bag play`` exists, use it. This player covers machines with rclpy but no rosbag2
(the PyPI ROS wheels, CI): it reads the bag with ``rosbags`` and publishes each message's
recorded CDR bytes unchanged (``Publisher.publish(bytes)``), so nothing is re-encoded, at the
recorded pace scaled by ``rate``. Publishers are reliable, which best-effort (sensor-data)
subscribers also accept.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader

from mmed_ros.errors import BagError, as_bag_error, bag_messages
from mmed_ros.qos import use_fastdds_profile

__all__ = ["message_class", "play_bag"]

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def message_class(msgtype: str) -> Any:
    """'sensor_msgs/msg/Image' -> the rclpy message class, or BagError naming what is missing."""
    parts = str(msgtype).split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(map(_IDENTIFIER.match, parts)):
        raise BagError(f"message type {msgtype!r}: expected 'package/msg/Name'")
    # The type names come from the bag: importing '<package>.msg' first runs '<package>'s own
    # __init__, so import only packages that hold a generated 'msg' subpackage, never any
    # other installed module a crafted bag names.
    spec = importlib.util.find_spec(parts[0])  # a top-level name: found, not imported
    places = (spec.submodule_search_locations or []) if spec else []
    if not any((Path(p) / "msg" / "__init__.py").is_file() for p in places):
        raise BagError(
            f"message type {msgtype!r}: '{parts[0]}' is not an installed ROS message package"
        )
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as exc:
        raise BagError(
            f"message type {msgtype!r} is not installed in this ROS environment ({exc})"
        ) from exc


def play_bag(
    path: str | Path,
    *,
    rate: float = 1.0,
    topics: Sequence[str] | None = None,
    wait_for: str | Sequence[str] | None = None,
    wait_timeout: float = 10.0,
    delay: float = 0.5,
    clock: bool = False,
    log: Callable[[str], None] = print,
) -> int:
    """Publish every message of ``path`` (optionally only ``topics``); returns the count.

    ``wait_for``: topic(s) whose subscribers must be matched before playing starts (so the first
    frames are not lost to discovery); BagError after ``wait_timeout`` seconds without one.
    ``delay``: seconds to wait after that, for the subscribers' own outputs to be matched
    downstream (e.g. perception_node -> evaluator_node), which the player cannot see.
    ``clock``: also publish each message's recorded time on /clock (``ros2 bag play --clock``),
    for nodes run with ``use_sim_time``.
    """
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    if rate <= 0:
        raise BagError(f"--rate: expected a positive factor, got {rate}")
    bag = Path(path)
    if not (bag / "metadata.yaml").is_file():
        raise BagError(f"{bag}: not a rosbag2 directory (no metadata.yaml)")
    # The player is the camera here: like a driver it needs Fast DDS's large shared-memory
    # segment, or most 640x480 frames are lost between processes (docs/ROS.md, Transport).
    use_fastdds_profile()
    rclpy.init()
    node = rclpy.create_node("mmed_bag_player")
    # created first, so the nodes on sim time discover it while the player waits for them
    clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
    count = 0
    try:
        with contextlib.ExitStack() as stack:
            with as_bag_error(bag, "opening it"):
                reader = stack.enter_context(Reader(bag))
                all_conns = list(reader.connections)
            conns = [c for c in all_conns if topics is None or c.topic in topics]
            if not conns:
                raise BagError(
                    f"{bag}: none of the topics {list(topics or [])} is in the bag; "
                    f"it has {sorted({c.topic for c in all_conns})}"
                )
            qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
            pubs, conns = _publishers(node, conns, qos, log)
            end = time.monotonic() + wait_timeout
            for topic in [wait_for] if isinstance(wait_for, str) else (wait_for or []):
                _wait_for_subscriber(node, topic, pubs, conns, max(0.0, end - time.monotonic()))
            time.sleep(max(0.0, delay))
            start_wall, start_bag = time.monotonic(), None
            for conn, stamp, raw in bag_messages(reader, bag, connections=conns):
                start_bag = stamp if start_bag is None else start_bag
                delay = (stamp - start_bag) / 1e9 / rate - (time.monotonic() - start_wall)
                if delay > 0:
                    time.sleep(delay)
                if clock_pub is not None:
                    clock_pub.publish(Clock(clock=Time(sec=stamp // 10**9, nanosec=stamp % 10**9)))
                pubs[conn.id].publish(bytes(raw))
                count += 1
        log(f"played {count} messages from {bag}")
        time.sleep(0.2)  # let the middleware flush the last reliable samples
        return count
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _publishers(
    node: Any, conns: list[Any], qos: Any, log: Callable[[str], None]
) -> tuple[dict[int, Any], list[Any]]:
    """A publisher per connection whose message type is installed; the others are skipped
    with a note (a bag often holds types of drivers this machine lacks)."""
    pubs: dict[int, Any] = {}
    classes: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for c in conns:
        if c.msgtype not in classes:
            try:
                classes[c.msgtype] = message_class(c.msgtype)
            except BagError as exc:
                classes[c.msgtype] = None
                skipped[c.msgtype] = str(exc)
        if classes[c.msgtype] is None:
            log(f"note: skipping {c.topic} ({skipped[c.msgtype]})")
            continue
        pubs[c.id] = node.create_publisher(classes[c.msgtype], c.topic, qos)
    kept = [c for c in conns if c.id in pubs]
    if not kept:
        raise BagError(f"none of the bag's message types is installed here: {sorted(skipped)}")
    return pubs, kept


def _wait_for_subscriber(
    node: Any, topic: str, pubs: dict[int, Any], conns: list[Any], timeout: float
) -> None:
    by_topic = {c.topic: pubs[c.id] for c in conns}
    if topic not in by_topic:
        raise BagError(f"--wait-for {topic}: not a played topic ({sorted(by_topic)})")
    end = time.monotonic() + timeout
    while by_topic[topic].get_subscription_count() == 0:
        if time.monotonic() > end:
            raise BagError(f"--wait-for {topic}: no subscriber appeared in time")
        time.sleep(0.05)
