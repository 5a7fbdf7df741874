# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The contract every method of the paper's Table 1 honours, and the method registry.

    python -c "from mmed_core.network.base import METHOD_BUILDERS; print(sorted(METHOD_BUILDERS))"

A method only builds its modules: ``encoders`` and ``decoders`` (``nn.ModuleDict`` keyed by
modality), ``encode(name, x) -> Encoded`` and ``decode(name, encoded, size) -> Tensor``. The
forward (input checks, path resolution, encode-once/decode-many, padding, rescaling) is written
once here, so mmed, the conv baselines and the MAE behave alike at the call site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from mmed_core.errors import ConfigError, InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import get_modality

__all__ = [
    "Encoded",
    "MultiModalModel",
    "Path",
    "METHOD_BUILDERS",
    "register_method",
    "init_weights",
]

Path = tuple[str, str]


@dataclass(frozen=True)
class Encoded:
    """What an encoder returns: the shared latent, the shared skips and the input size.

    ``skips`` are the encoder's pre-pool features (full, half resolution); empty for methods
    without skips (MAE). ``size`` is the (H, W) that decoders reproduce before any rescaling:
    the unpadded input size.
    """

    latent: torch.Tensor
    skips: tuple[torch.Tensor, ...]
    size: tuple[int, int]

    def select(self, rows: torch.Tensor) -> Encoded:
        """The same encoding restricted to batch ``rows``."""
        return Encoded(
            self.latent.index_select(0, rows),
            tuple(s.index_select(0, rows) for s in self.skips),
            self.size,
        )

    @staticmethod
    def cat(parts: list[Encoded]) -> Encoded:
        """Concatenate encodings of the same size along the batch (for decoding them in one
        call)."""
        if len(parts) == 1:
            return parts[0]
        skips = (
            tuple(torch.cat(t) for t in zip(*(p.skips for p in parts))) if parts[0].skips else ()
        )
        return Encoded(torch.cat([p.latent for p in parts]), skips, parts[0].size)


class MultiModalModel(nn.Module):
    """Base of every method: subclasses build ``encoders``/``decoders`` and encode/decode one path.

    ``size_multiple`` is what input sizes must be divisible by (the conv nets pool twice: 4).
    """

    size_multiple: int = 1
    encoders: nn.ModuleDict  # modality -> encoder; assigned by the subclass
    decoders: nn.ModuleDict  # modality -> decoder; assigned by the subclass

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    def encode(self, name: str, x: torch.Tensor) -> Encoded:
        raise NotImplementedError

    def decode(
        self, name: str, encoded: Encoded, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """Decoder ``name`` applied to ``encoded``; output at ``size`` (default
        ``encoded.size``)."""
        raise NotImplementedError

    def forward(
        self,
        inputs: Mapping[str, torch.Tensor],
        outputs: Iterable[str] | None = None,
        *,
        paths: Iterable[Path] | None = None,
        size: tuple[int, int] | None = None,
        pad: bool = False,
    ) -> dict[Path, torch.Tensor]:
        """Encode each given input once, decode the requested outputs.

        ``inputs`` maps modality -> network-unit tensor (see ``mmed_core.network.modalities``);
        ``outputs`` names decoders (default: all) applied to every input; ``paths`` instead
        lists explicit (source, target) pairs. Returns {(source, target): tensor}, each
        rescaled to ``size`` (default: the input size). ``pad=True`` pads sizes that are not
        divisible by ``size_multiple`` and crops the outputs back.
        """
        in_size = self.check_inputs(inputs)
        wanted = self.resolve_paths(inputs, outputs, paths)
        m = self.size_multiple
        padded = bool(in_size[0] % m or in_size[1] % m)
        if padded and not pad:
            sug = (in_size[0] + (-in_size[0]) % m, in_size[1] + (-in_size[1]) % m)
            raise InputError(
                f"input size {in_size} is not divisible by {m} (two 2x2 poolings); "
                f"resize or pad to {sug}, or pass pad=True"
            )
        out_size = tuple(size) if size is not None else in_size
        result: dict[Path, torch.Tensor] = {}
        for src in dict.fromkeys(s for s, _ in wanted):  # encode each input once, in order
            x = _pad_to(inputs[src], m) if padded else inputs[src]
            enc = self.encode(src, x)
            if padded:  # decoders crop the padding before rescaling, so it never leaks out
                enc = replace(enc, size=in_size)
            for s, dst in wanted:
                if s == src:
                    result[(src, dst)] = self.decode(dst, enc, out_size)  # type: ignore[arg-type]
        return result

    def check_inputs(self, inputs: Mapping[str, torch.Tensor]) -> tuple[int, int]:
        """Raise InputError unless ``inputs`` fit this model; return their common (H, W)."""
        if not inputs:
            raise InputError(f"no input given; the model encodes {sorted(self.encoders)}")
        batch = size = None
        for name, x in inputs.items():
            if name not in self.encoders:
                raise InputError(
                    f"no encoder for input `{name}`; this model encodes {sorted(self.encoders)}"
                )
            want = get_modality(name).num_channels(self.config)
            if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != want:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise InputError(
                    f"input `{name}` must be (B,{want},H,W) in network units, got {got}"
                )
            if not torch.isfinite(x).all():
                raise InputError(f"input `{name}` contains NaN or inf values")
            if batch is None:
                batch, size = x.shape[0], (int(x.shape[2]), int(x.shape[3]))
            elif x.shape[0] != batch:
                raise InputError(
                    f"batch sizes differ: `{name}` has {x.shape[0]}, others have {batch}"
                )
        return size  # type: ignore[return-value]

    def resolve_paths(
        self,
        inputs: Mapping[str, torch.Tensor],
        outputs: Iterable[str] | None,
        paths: Iterable[Path] | None,
    ) -> list[Path]:
        """The (source, target) pairs to compute, checked against this model's modules."""
        if paths is not None:
            wanted = [tuple(p) for p in paths]
            for s, d in wanted:
                if s not in inputs:
                    raise InputError(f"path ({s}->{d}) needs input `{s}`, given {sorted(inputs)}")
                if d not in self.decoders:
                    raise InputError(
                        f"no decoder `{d}` for path ({s}->{d}); decoders: {sorted(self.decoders)}"
                    )
            return wanted  # type: ignore[return-value]
        outs = list(self.decoders) if outputs is None else list(outputs)
        for d in outs:
            if d not in self.decoders:
                raise InputError(
                    f"no decoder for output `{d}`; this model decodes {sorted(self.decoders)}"
                )
        return [(s, d) for s in inputs for d in outs]


def _pad_to(x: torch.Tensor, m: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")


#: method name -> builder(config) -> model; filled by the method modules via ``register_method``.
METHOD_BUILDERS: dict[str, Callable[[ModelConfig], MultiModalModel]] = {}


def register_method(*names: str) -> Callable[[type[MultiModalModel]], type[MultiModalModel]]:
    """Class decorator: ``create_model`` builds this class for each of ``names``."""

    def wrap(cls: type[MultiModalModel]) -> type[MultiModalModel]:
        for name in names:
            if name in METHOD_BUILDERS:
                raise ConfigError(f"method `{name}` is registered twice")
            METHOD_BUILDERS[name] = cls
        return cls

    return wrap


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
