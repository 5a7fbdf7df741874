"""The MAE baseline of Table 1: Cadena et al.'s multi-modal auto-encoder.

    python -c "from mmed_core.config import ModelConfig; from mmed_core.model import create_model; print(create_model(ModelConfig(method='mae')))"

Fully connected per-modality encoders on flattened inputs, a concatenated (not shared) latent,
and zero-filled inputs for missing modalities (paper §4). Flattening a 96x96 one-hot label map
into a dense layer would need >100M weights, so inputs are area-resampled to ``mae_grid``
first and outputs bilinearly rescaled back; this is our choice where the paper is silent.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .model import Path, _check_inputs, _resolve_paths, init_weights
from .modalities import get_modality

__all__ = ["MultiModalAutoEncoder"]


class _FCEncoder(nn.Module):
    def __init__(self, cin: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(cin, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, latent), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _FCDecoder(nn.Module):
    skip = False  # MAE has no skip connections

    def __init__(self, latent: int, hidden: int, cout: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.shape = (cout, *grid)
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, cout * grid[0] * grid[1]))

    def forward(self, z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.net(z).view(z.shape[0], *self.shape)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class MultiModalAutoEncoder(nn.Module):
    """Same call signature as :class:`~mmed_core.model.MultiModalEncoderDecoder`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        g = config.mae_grid
        n = len(config.encoder_modalities)
        ch = {m: get_modality(m).num_channels(config) for m in config.modalities}
        self.encoders = nn.ModuleDict({
            m: _FCEncoder(ch[m] * g[0] * g[1], config.mae_hidden, config.mae_latent)
            for m in config.encoder_modalities
        })
        self.shared = nn.Sequential(nn.Linear(n * config.mae_latent, n * config.mae_latent), nn.ReLU(inplace=True))
        self.decoders = nn.ModuleDict({
            m: _FCDecoder(n * config.mae_latent, config.mae_hidden, ch[m], g) for m in config.decoder_modalities
        })
        init_weights(self, config.init_std)

    def encode(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Latent of ``x`` with every other modality zero-filled; also returns the input size."""
        g = self.config.mae_grid
        small = F.adaptive_avg_pool2d(x, g)
        parts = []
        for m, enc in self.encoders.items():
            if m == name:
                parts.append(enc(small))
            else:  # zero-filled pseudo signal of a missing modality
                cin = enc.net[1].in_features
                parts.append(enc(small.new_zeros(x.shape[0], cin)))
        return self.shared(torch.cat(parts, dim=1)), (x.shape[2], x.shape[3])

    def decode(self, name: str, latent: torch.Tensor, skips: object = None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
        # ``skips`` carries the input size returned by ``encode`` (MAE has no real skips).
        return self.decoders[name](latent, size if size is not None else skips)  # type: ignore[arg-type]

    def forward(self, inputs: Mapping[str, torch.Tensor], outputs: Iterable[str] | None = None,
                *, paths: Iterable[Path] | None = None, size: tuple[int, int] | None = None,
                pad: bool = False) -> dict[Path, torch.Tensor]:
        _, in_size = _check_inputs(inputs, self)
        wanted = _resolve_paths(self, inputs, outputs, paths)
        out_size = tuple(size) if size is not None else in_size
        result: dict[Path, torch.Tensor] = {}
        for src in dict.fromkeys(s for s, _ in wanted):
            z, _ = self.encode(src, inputs[src])
            for s, dst in wanted:
                if s == src:
                    result[(src, dst)] = self.decode(dst, z, None, out_size)  # type: ignore[arg-type]
        return result
