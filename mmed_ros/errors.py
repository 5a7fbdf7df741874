# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Exception types of the ROS glue (``mmed_ros``); none of them needs rclpy.

They derive from :class:`mmed_core.errors.MmedError`, so a node or CLI catches one type and logs
the message, which names the input, what was expected and what came.
"""

from __future__ import annotations

from mmed_core.errors import InputError, MmedError

__all__ = ["ConversionError", "BagError"]


class ConversionError(InputError):
    """A ROS message cannot be turned into an array (encoding, size, step, values)."""


class BagError(MmedError):
    """A rosbag2 cannot be written or read, or lacks the topics asked for."""
