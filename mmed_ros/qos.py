# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""QoS decisions for the node's inputs and the Fast DDS profile for large frames, ROS-free.

    python -m mmed_ros.qos --write-fastdds-profile /tmp/mmed_fastdds.xml   # for your driver

``qos_reliability: auto`` subscribes with what the publishers offer: reliable when every
publisher of the topic offers reliable (no frame lost in the transport), best effort when any
offers best effort (a reliable subscription would not match it at all) or when none is there
yet; the node re-checks when publishers come and go (:func:`choose_reliability`).

Why frames were lost (issue 11): Fast DDS moves samples between processes of one machine
through a shared-memory segment of 0.5 MB per participant by default. A 640x480 rgb8 frame is
0.9 MB: it travels in fragments whose buffers are recycled before the reader has them all, so a
best-effort reader loses most large frames *at any rate* (measured: 1 of 41 at 5 Hz) and a
reliable one needs repairs. A larger segment in the *publishing* process removes the loss
(measured: 301 of 301 at 30 Hz, RGB + depth). :data:`FASTDDS_PROFILE_XML` is that profile; the
node uses it for itself (its outputs are large too) unless the environment names another
profile, and the camera driver's process should get it as well (docs/ROS.md, "Transport").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmed_core.atomic import atomic_write_text

__all__ = [
    "OfferedQoS",
    "choose_reliability",
    "describe_offered",
    "incompatibility",
    "FASTDDS_PROFILE_XML",
    "SHM_SEGMENT_BYTES",
    "use_fastdds_profile",
    "Handover",
]

BEST_EFFORT, RELIABLE = "best_effort", "reliable"

#: Shared-memory segment of the node's participant: several 2048x1024 outputs (6-8 MB each) in
#: flight. tmpfs pages are only used as they are touched.
SHM_SEGMENT_BYTES = 64 * 1024 * 1024

FASTDDS_PROFILE_XML = f"""<?xml version="1.0" encoding="UTF-8" ?>
<!-- mmed: Fast DDS default participant profile for camera-sized samples (issue 11).
     The default 0.5 MB shared-memory segment is smaller than one 640x480 frame; best-effort
     samples larger than it are mostly lost. Use it for the camera driver too:
     FASTDDS_DEFAULT_PROFILES_FILE=<this file> (Humble: FASTRTPS_DEFAULT_PROFILES_FILE). -->
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>mmed_shm</transport_id>
      <type>SHM</type>
      <segment_size>{SHM_SEGMENT_BYTES}</segment_size>
    </transport_descriptor>
    <transport_descriptor>
      <transport_id>mmed_udp</transport_id>
      <type>UDPv4</type>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="mmed_large_frames" is_default_profile="true">
    <rtps>
      <userTransports>
        <transport_id>mmed_shm</transport_id>
        <transport_id>mmed_udp</transport_id>
      </userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""

_PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


@dataclass(frozen=True)
class OfferedQoS:
    """What one publisher of a topic offers (from the ROS graph)."""

    node: str
    reliability: str  # 'reliable', 'best_effort' or another policy name
    durability: str = "volatile"
    depth: int = 0


def choose_reliability(setting: str, offered: Sequence[OfferedQoS]) -> str:
    """The reliability to subscribe with: ``setting`` unless it is 'auto' (see module doc)."""
    if setting != "auto":
        return setting
    if offered and all(o.reliability == RELIABLE for o in offered):
        return RELIABLE
    return BEST_EFFORT


def incompatibility(requested: str, offered: Sequence[OfferedQoS]) -> str | None:
    """Why some publishers cannot match a ``requested`` subscription, or None."""
    bad = [o for o in offered if requested == RELIABLE and o.reliability != RELIABLE]
    if not bad:
        return None
    return (
        f"{len(bad)} publisher(s) ({', '.join(o.node for o in bad)}) offer "
        f"{bad[0].reliability}, the subscription asks reliable: they never match; set "
        "qos_reliability to auto or best_effort"
    )


def describe_offered(requested: str, offered: Sequence[OfferedQoS]) -> str:
    """One line for /diagnostics: who publishes with what, and whether it can match."""
    if not offered:
        return "no publisher on this topic (wrong name or remapping? driver not running?)"
    parts = [f"{o.node} offers {o.reliability}/{o.durability}" for o in offered]
    text = f"{len(offered)} publisher(s): " + "; ".join(parts) + f"; subscribed {requested}"
    why = incompatibility(requested, offered)
    return f"{text}; INCOMPATIBLE: {why}" if why else f"{text} (compatible: publisher silent)"


class Handover:
    """Switch a subscription (new QoS) without losing or doubling a frame.

    The new subscription is created before the old one goes, so both may deliver for a moment.
    Until the new one delivers its first message the old one's are accepted; that first message
    is a duplicate when its stamp is not newer than the old one's last; after it, the old
    subscription's messages are ignored (and it can be destroyed: :attr:`switched`).
    """

    def __init__(self) -> None:
        self.generation = 0
        self.switched = True
        self._last_old: int | None = None

    def begin(self) -> int:
        """A new subscription is being created; returns the generation its callback carries."""
        self.generation += 1
        self.switched = False
        self._last_old = None
        return self.generation

    def accept(self, generation: int, stamp_ns: int) -> bool:
        """Whether a message with ``stamp_ns`` from subscription ``generation`` is new."""
        if generation == self.generation:
            if not self.switched:
                self.switched = True
                if self._last_old is not None and stamp_ns <= self._last_old:
                    return False
            return True
        if self.switched:
            return False
        self._last_old = stamp_ns if self._last_old is None else max(self._last_old, stamp_ns)
        return True


def use_fastdds_profile(
    env: MutableMapping[str, str] | None = None, folder: str | os.PathLike[str] | None = None
) -> str | None:
    """Point this process's Fast DDS at :data:`FASTDDS_PROFILE_XML` (call before rclpy.init).

    Does nothing (returns None) when another RMW is selected, when a profile file is already
    named in the environment, or when ``MMED_FASTDDS_PROFILE`` is ``off``; returns the path
    used otherwise. The file is written atomically into ``folder`` (default: the temp folder).
    """
    env = os.environ if env is None else env
    rmw = env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if not rmw.startswith("rmw_fastrtps") or env.get("MMED_FASTDDS_PROFILE", "") == "off":
        return None
    if any(env.get(var) for var in _PROFILE_VARS):
        return None
    path = Path(folder or tempfile.gettempdir()) / f"mmed_fastdds_{os.getuid()}.xml"
    if not path.is_file() or path.read_text(encoding="utf-8") != FASTDDS_PROFILE_XML:
        atomic_write_text(path, FASTDDS_PROFILE_XML)
    # Humble's Fast DDS 2.6 reads the old name; newer ones warn that it is deprecated.
    old = env.get("ROS_DISTRO", "") in ("humble", "iron")
    env[_PROFILE_VARS[1] if old else _PROFILE_VARS[0]] = str(path)
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fast DDS profile for camera-sized samples.")
    ap.add_argument("--write-fastdds-profile", metavar="FILE", required=True)
    args = ap.parse_args(argv)
    atomic_write_text(args.write_fastdds_profile, FASTDDS_PROFILE_XML)
    print(f"wrote {args.write_fastdds_profile}; export FASTDDS_DEFAULT_PROFILES_FILE=<it>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
