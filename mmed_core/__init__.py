# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed_core: the multi-modal encoder-decoder network of Kuga et al. in pure PyTorch.

Never imports rclpy; the ROS 2 nodes in ``mmed_ros`` wrap it.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mmed_core.errors import CheckpointError, ConfigError, DatasetError, InputError, MmedError  # noqa: E402
from mmed_core.network.config import METHODS, ModelConfig  # noqa: E402

__all__ = [
    "__version__",
    "ModelConfig",
    "METHODS",
    "MmedError",
    "ConfigError",
    "InputError",
    "CheckpointError",
    "DatasetError",
]
