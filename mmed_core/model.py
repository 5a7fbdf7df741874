"""The multi-modal encoder-decoder network with shared latent and shared skips (paper §3.1).

    python -c "from mmed_core.model import create_model; from mmed_core.config import ModelConfig; print(create_model(ModelConfig()))"

One encoder and one decoder per modality. Every encoder maps its input to a latent of the same
shape C x H/4 x W/4 and returns its pre-pool features (full and half resolution) as skips; every
decoder accepts the latent (and skips) of any encoder, so one model holds all N x N paths.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .errors import InputError
from .modalities import get_modality

__all__ = ["ConvBlock", "Encoder", "Decoder", "MultiModalEncoderDecoder", "create_model", "Path"]

Path = tuple[str, str]
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

    def __init__(self, out_channels: int, widths: tuple[int, int, int], latent: int, skip: bool) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.skip = skip
        self.stage3 = nn.Sequential(ConvBlock(latent, w3), ConvBlock(w3, w2))
        self.stage2 = nn.Sequential(ConvBlock(w2 * (2 if skip else 1), w2), ConvBlock(w2, w1))
        self.stage1 = nn.Sequential(ConvBlock(w1 * (2 if skip else 1), w1), ConvBlock(w1, w1))
        self.head = nn.Conv2d(w1, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, latent: torch.Tensor, skips: Skips | None = None,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        x = unpool(self.stage3(latent))
        if self.skip:
            if skips is None:
                raise InputError("this decoder uses shared skips but none were given")
            x = torch.cat([x, skips[1]], dim=1)
        x = unpool(self.stage2(x))
        if self.skip:
            x = torch.cat([x, skips[0]], dim=1)
        y = self.head(self.stage1(x))
        if size is not None and tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y


def _check_inputs(inputs: Mapping[str, torch.Tensor], model: nn.Module) -> tuple[int, tuple[int, int]]:
    if not inputs:
        raise InputError(f"no input given; the model encodes {sorted(model.encoders)}")
    batch = None
    size = None
    for name, x in inputs.items():
        if name not in model.encoders:
            raise InputError(f"no encoder for input `{name}`; this model encodes {sorted(model.encoders)}")
        want = get_modality(name).num_channels(model.config)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != want:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"input `{name}` must be (B,{want},H,W) in network units, got {got}")
        if not torch.isfinite(x).all():
            raise InputError(f"input `{name}` contains NaN or inf values")
        if batch is None:
            batch, size = x.shape[0], (x.shape[2], x.shape[3])
        elif x.shape[0] != batch:
            raise InputError(f"batch sizes differ: `{name}` has {x.shape[0]}, others have {batch}")
    return batch, size  # type: ignore[return-value]


def _pad_to_4(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class MultiModalEncoderDecoder(nn.Module):
    """Shared-latent, shared-skip encoder-decoder over the config's modalities (paper Fig. 2).

    Used also for the conv baselines of Table 1 (enc-dec, enc-dec-u, enc-decs): they are the
    same blocks with fewer encoders/decoders (see ``ModelConfig.encoder_modalities``).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        w, c = config.widths, config.latent_channels
        self.encoders = nn.ModuleDict({
            m: Encoder(get_modality(m).num_channels(config), w, c) for m in config.encoder_modalities
        })
        self.decoders = nn.ModuleDict({
            m: Decoder(get_modality(m).num_channels(config), w, c, skip=config.uses_skip(m))
            for m in config.decoder_modalities
        })
        init_weights(self, config.init_std)

    def encode(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, Skips]:
        return self.encoders[name](x)

    def decode(self, name: str, latent: torch.Tensor, skips: Skips | None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
        return self.decoders[name](latent, skips, size)

    def forward(self, inputs: Mapping[str, torch.Tensor], outputs: Iterable[str] | None = None,
                *, paths: Iterable[Path] | None = None, size: tuple[int, int] | None = None,
                pad: bool = False) -> dict[Path, torch.Tensor]:
        """Encode each given input once, decode the requested outputs.

        ``inputs`` maps modality -> network-unit tensor (see ``mmed_core.modalities``);
        ``outputs`` names decoders (default: all) applied to every input; ``paths`` instead
        lists explicit (source, target) pairs. Returns {(source, target): tensor}, each
        rescaled to ``size`` (default: the input size). ``pad=True`` pads sizes that are not
        divisible by 4 and crops the outputs back.
        """
        _, in_size = _check_inputs(inputs, self)
        wanted = _resolve_paths(self, inputs, outputs, paths)
        if in_size[0] % 4 or in_size[1] % 4:
            if not pad:
                sug = (in_size[0] + (-in_size[0]) % 4, in_size[1] + (-in_size[1]) % 4)
                raise InputError(f"input size {in_size} is not divisible by 4 (two 2x2 poolings); "
                                 f"resize or pad to {sug}, or pass pad=True")
            inputs = {k: _pad_to_4(v) for k, v in inputs.items()}
        out_size = tuple(size) if size is not None else in_size
        result: dict[Path, torch.Tensor] = {}
        for src in dict.fromkeys(s for s, _ in wanted):  # encode each input once, in order
            latent, skips = self.encode(src, inputs[src])
            for s, dst in wanted:
                if s != src:
                    continue
                y = self.decode(dst, latent, skips if self.decoders[dst].skip else None)
                if pad:  # crop the padding before rescaling so it never leaks into outputs
                    y = y[..., : in_size[0], : in_size[1]]
                if tuple(y.shape[-2:]) != out_size:
                    y = F.interpolate(y, size=out_size, mode="bilinear", align_corners=False)
                result[(src, dst)] = y
        return result


def _resolve_paths(model: nn.Module, inputs: Mapping[str, torch.Tensor],
                   outputs: Iterable[str] | None, paths: Iterable[Path] | None) -> list[Path]:
    if paths is not None:
        wanted = [tuple(p) for p in paths]
        for s, d in wanted:
            if s not in inputs:
                raise InputError(f"path ({s}->{d}) needs input `{s}`, given {sorted(inputs)}")
            if d not in model.decoders:
                raise InputError(f"no decoder `{d}` for path ({s}->{d}); decoders: {sorted(model.decoders)}")
        return wanted  # type: ignore[return-value]
    outs = list(model.decoders) if outputs is None else list(outputs)
    for d in outs:
        if d not in model.decoders:
            raise InputError(f"no decoder for output `{d}`; this model decodes {sorted(model.decoders)}")
    return [(s, d) for s in inputs for d in outs]


def init_weights(module: nn.Module, std: float = 0.0) -> None:
    """Normal initialisation (paper §3.3): Kaiming-normal by default, N(0, std) if std > 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if std > 0:
                nn.init.normal_(m.weight, 0.0, std)
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def create_model(config: ModelConfig) -> nn.Module:
    """Build the model of ``config.method``: mmed and the conv baselines share this class; MAE
    (fully connected, Cadena et al.) lives in :mod:`mmed_core.mae`."""
    if config.method == "mae":
        from .mae import MultiModalAutoEncoder

        return MultiModalAutoEncoder(config)
    return MultiModalEncoderDecoder(config)
