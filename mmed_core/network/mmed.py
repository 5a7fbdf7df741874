# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The multi-modal encoder-decoder network with shared latent and shared skips (paper §3.1).

    python -c "from mmed_core.network.mmed import MultiModalEncoderDecoder as M; \
        from mmed_core.network.config import ModelConfig; print(M(ModelConfig()))"

One encoder and one decoder per modality. Every encoder maps its input to a latent of the same
shape C x H/4 x W/4 and returns its pre-pool features (full and half resolution) as skips; every
decoder accepts the latent (and skips) of any encoder, so one model holds all N x N paths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmed_core.errors import InputError
from mmed_core.network.base import Encoded, MultiModalModel, init_weights, register_method
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import get_modality

__all__ = ["ConvBlock", "Encoder", "Decoder", "MultiModalEncoderDecoder", "unpool"]

Skips = tuple[torch.Tensor, torch.Tensor]


class ConvBlock(nn.Sequential):
    """Conv3x3 (stride 1, pad 1) + BatchNorm + ReLU, the paper's only building block."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


def unpool(x: torch.Tensor) -> torch.Tensor:
    """Un-pooling that copies each value into its 2x2 cell (paper: 'embedding the same values')."""
    # Nearest 2x upsampling is exactly that copy, and 1.12x faster in training than two
    # repeat_interleave calls (benchmarks/bench_training.py).
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class Encoder(nn.Module):
    """Seven ConvBlocks with two 2x2/2 max-pools in the middle: 2 | pool | 2 | pool | 3."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], latent: int) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.stage1 = nn.Sequential(ConvBlock(in_channels, w1), ConvBlock(w1, w1))
        self.stage2 = nn.Sequential(ConvBlock(w1, w2), ConvBlock(w2, w2))
        self.stage3 = nn.Sequential(ConvBlock(w2, w3), ConvBlock(w3, w3), ConvBlock(w3, latent))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Skips]:
        s1 = self.stage1(x)  # full resolution, pre-pool: shared skip 1
        s2 = self.stage2(F.max_pool2d(s1, 2))  # half resolution, pre-pool: shared skip 2
        return self.stage3(F.max_pool2d(s2, 2)), (s1, s2)


class Decoder(nn.Module):
    """Seven layers mirroring the encoder; the last is a plain Conv.

    With ``skip=True`` the un-pooled features are concatenated with the encoder's pre-pool
    features of the same resolution and convolved to mix them (U-net, paper §3.1).
    """

    def __init__(
        self, out_channels: int, widths: tuple[int, int, int], latent: int, skip: bool
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.skip = skip
        self.stage3 = nn.Sequential(ConvBlock(latent, w3), ConvBlock(w3, w2))
        self.stage2 = nn.Sequential(ConvBlock(w2 * (2 if skip else 1), w2), ConvBlock(w2, w1))
        self.stage1 = nn.Sequential(ConvBlock(w1 * (2 if skip else 1), w1), ConvBlock(w1, w1))
        self.head = nn.Conv2d(w1, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(
        self, latent: torch.Tensor, skips: Skips | None = None, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        x = unpool(self.stage3(latent))
        if self.skip:
            if skips is None:
                raise InputError("this decoder uses shared skips but none were given")
            x = torch.cat([x, skips[1]], dim=1)
        x = unpool(self.stage2(x))
        if self.skip and skips is not None:  # None raised above
            x = torch.cat([x, skips[0]], dim=1)
        y = self.head(self.stage1(x))
        if size is not None and tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y


@register_method("mmed", "enc-dec", "enc-dec-u", "enc-decs")
class MultiModalEncoderDecoder(MultiModalModel):
    """Shared-latent, shared-skip encoder-decoder over the config's modalities (paper Fig. 2).

    Used also for the conv baselines of Table 1 (enc-dec, enc-dec-u, enc-decs): they are the
    same blocks with fewer encoders/decoders (see ``ModelConfig.encoder_modalities``).
    """

    size_multiple = 4  # two 2x2 max-pools

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        w, c = config.widths, config.latent_channels
        self.encoders = nn.ModuleDict(
            {
                m: Encoder(get_modality(m).num_channels(config), w, c)
                for m in config.encoder_modalities
            }
        )
        self.decoders = nn.ModuleDict(
            {
                m: Decoder(get_modality(m).num_channels(config), w, c, skip=config.uses_skip(m))
                for m in config.decoder_modalities
            }
        )
        init_weights(self, config.init_std)

    def encode(self, name: str, x: torch.Tensor) -> Encoded:
        latent, skips = self.encoders[name](x)
        return Encoded(latent, skips, (int(x.shape[2]), int(x.shape[3])))

    def decode(
        self, name: str, encoded: Encoded, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        decoder = self.decoders[name]
        y = decoder(encoded.latent, encoded.skips if decoder.skip else None)
        h, w = encoded.size
        if tuple(y.shape[-2:]) != (h, w):  # padded input: crop back before any rescaling
            y = y[..., :h, :w]
        out = tuple(size) if size is not None else (h, w)
        if tuple(y.shape[-2:]) != out:
            y = F.interpolate(y, size=out, mode="bilinear", align_corners=False)
        return y
