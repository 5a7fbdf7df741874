# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The MAE baseline of Table 1: Cadena et al.'s multi-modal auto-encoder.

    python -c "from mmed_core.network.config import ModelConfig; \
        from mmed_core.network.factory import create_model; \
        print(create_model(ModelConfig(method='mae')))"

Fully connected per-modality encoders on flattened inputs, a concatenated (not shared) latent,
and zero-filled inputs for missing modalities (paper §4). Flattening a 96x96 one-hot label map
into a dense layer would need >100M weights, so inputs are area-resampled to ``mae_grid``
first and outputs bilinearly rescaled back; this is our choice where the paper is silent.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from mmed_core.network.base import Encoded, MultiModalModel, init_weights, register_method
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import get_modality

__all__ = ["MultiModalAutoEncoder"]


class _FCEncoder(nn.Module):
    def __init__(self, cin: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.cin = cin  # what a zero-filled stand-in for this modality must have
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, latent),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _FCDecoder(nn.Module):
    skip = False  # MAE has no skip connections

    def __init__(self, latent: int, hidden: int, cout: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.shape = (cout, *grid)
        self.net = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, cout * grid[0] * grid[1]),
        )

    def forward(self, z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.net(z).view(z.shape[0], *self.shape)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


@register_method("mae")
class MultiModalAutoEncoder(MultiModalModel):
    """Fully connected encoders/decoders over a concatenated latent; no skips, any input size."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        g = config.mae_grid
        n = len(config.encoder_modalities)
        ch = {m: get_modality(m).num_channels(config) for m in config.modalities}
        self.encoders = nn.ModuleDict(
            {
                m: _FCEncoder(ch[m] * g[0] * g[1], config.mae_hidden, config.mae_latent)
                for m in config.encoder_modalities
            }
        )
        self.shared = nn.Sequential(
            nn.Linear(n * config.mae_latent, n * config.mae_latent), nn.ReLU(inplace=True)
        )
        self.decoders = nn.ModuleDict(
            {
                m: _FCDecoder(n * config.mae_latent, config.mae_hidden, ch[m], g)
                for m in config.decoder_modalities
            }
        )
        init_weights(self, config.init_std)

    def encode(self, name: str, x: torch.Tensor) -> Encoded:
        """Latent of ``x`` with every other modality zero-filled (MAE has no skips)."""
        g = self.config.mae_grid
        small = F.adaptive_avg_pool2d(x, g)
        parts = []
        for m, enc in self.encoders.items():
            if m == name:
                parts.append(enc(small))
            else:  # zero-filled pseudo signal of a missing modality
                cin = cast(_FCEncoder, enc).cin
                parts.append(enc(small.new_zeros(x.shape[0], cin)))
        return Encoded(
            self.shared(torch.cat(parts, dim=1)), (), (int(x.shape[2]), int(x.shape[3]))
        )

    def decode(
        self, name: str, encoded: Encoded, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        return self.decoders[name](
            encoded.latent, tuple(size) if size is not None else encoded.size
        )
