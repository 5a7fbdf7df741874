# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Exception types of mmed_core.

Every error raised on bad input derives from :class:`MmedError`, so callers (the CLIs, the ROS
nodes) can catch one type and print the message, which always names the input, what was
expected and what came.
"""

from __future__ import annotations

__all__ = [
    "MmedError",
    "ConfigError",
    "InputError",
    "CheckpointError",
    "DatasetError",
    "ExportError",
]


class MmedError(Exception):
    """Base class of every error mmed raises on purpose."""


class ConfigError(MmedError, ValueError):
    """A configuration value, override or name is unknown or out of range."""


class InputError(MmedError, ValueError):
    """A tensor or array given to the model, a loss or a metric has the wrong shape/type/values."""


class CheckpointError(MmedError):
    """A checkpoint is missing, tampered with, or does not match its config."""


class DatasetError(MmedError):
    """A dataset file or folder is missing, corrupt or not in the expected layout."""


class ExportError(MmedError):
    """An exported or compiled model (TorchScript, ONNX, torch.compile) disagrees with eager."""
