# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""``create_model``: the one factory behind every method name of ``ModelConfig.method``.

python -c "from mmed_core.network.factory import create_model; \
    from mmed_core.network.config import ModelConfig; print(create_model(ModelConfig()))"
"""

from __future__ import annotations

# The method modules register themselves on import (``register_method``).
import mmed_core.network.mae  # noqa: F401
import mmed_core.network.mmed  # noqa: F401
from mmed_core.errors import ConfigError
from mmed_core.network.base import METHOD_BUILDERS, MultiModalModel
from mmed_core.network.config import ModelConfig

__all__ = ["create_model"]


def create_model(config: ModelConfig) -> MultiModalModel:
    """Build the model of ``config.method`` (mmed, the conv baselines of Table 1, or MAE)."""
    try:
        builder = METHOD_BUILDERS[config.method]
    except KeyError:
        raise ConfigError(
            f"Wrong method `{config.method}`, supported: {sorted(METHOD_BUILDERS)}"
        ) from None
    return builder(config)
