# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Exception types of the ROS glue (``mmed_ros``); none of them needs rclpy.

They derive from :class:`mmed_core.errors.MmedError`, so a node or CLI catches one type and logs
the message, which names the input, what was expected and what came.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmed_core.errors import InputError, MmedError

__all__ = ["ConversionError", "BagError", "as_bag_error", "bag_messages"]


class ConversionError(InputError):
    """A ROS message cannot be turned into an array (encoding, size, step, values)."""


class BagError(MmedError):
    """A rosbag2 cannot be written or read, or lacks the topics asked for."""


@contextlib.contextmanager
def as_bag_error(bag_path: Path, what: str) -> Iterator[None]:
    """rosbags raises whatever its parsers hit in a damaged file (UnicodeDecodeError, TypeError,
    struct.error, ...), not only its own errors: name the bag and what failed instead."""
    try:
        yield
    except MmedError:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise BagError(
            f"bag {bag_path}: cannot be read ({what}: {type(exc).__name__}: {exc}); the "
            "bag is damaged or not a rosbag2"
        ) from exc


def bag_messages(reader: Any, bag_path: Path, **kwargs: Any) -> Iterator[tuple[Any, int, bytes]]:
    """``reader.messages(**kwargs)`` with its failures on damaged data turned into BagError."""
    it = iter(reader.messages(**kwargs))
    while True:
        with as_bag_error(bag_path, "reading its messages"):
            item = next(it, None)
        if item is None:
            return
        yield item
