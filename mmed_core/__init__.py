"""mmed_core: the multi-modal encoder-decoder network of Kuga et al. in pure PyTorch.

Never imports rclpy; the ROS 2 nodes in ``mmed_ros`` wrap it.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import METHODS, ModelConfig  # noqa: E402
from .errors import CheckpointError, ConfigError, DatasetError, InputError, MmedError  # noqa: E402

__all__ = ["__version__", "ModelConfig", "METHODS", "MmedError", "ConfigError", "InputError",
           "CheckpointError", "DatasetError"]
