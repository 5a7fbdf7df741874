# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The one configuration dataclass of a model; it is stored in every checkpoint's model card.

    python -c "from mmed_core.network.config import ModelConfig; \
        print(ModelConfig.preset('small'))"

The paper (§3.1) fixes the layer layout but not the channel widths; widths are fields here.
Presets: ``tiny`` (tests), ``small`` (default: trains on 2 CPU cores in minutes), ``paper``
(GPU training; VGG-like widths). FLOPs per path are printed by ``mmed_core.network.flops``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmed_core.data.classes import NYU12_CLASSES, NYU12_PALETTE, default_palette
from mmed_core.errors import ConfigError
from mmed_core.network.modalities import MODALITIES

__all__ = ["ModelConfig", "METHODS", "PRESETS"]

#: Methods of the paper's Table 1 (``mmed`` is "Ours"; "+extra" is a training option).
METHODS: tuple[str, ...] = ("mmed", "enc-dec", "enc-dec-u", "enc-decs", "mae")

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"widths": (8, 16, 16), "latent_channels": 16},
    "small": {"widths": (16, 32, 64), "latent_channels": 64},
    "paper": {"widths": (64, 128, 256), "latent_channels": 256},
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model from its checkpoint alone."""

    method: str = "mmed"  # one of METHODS
    modalities: tuple[str, ...] = (
        "rgb",
        "depth",
        "label",
    )  # registry names (mmed_core.network.modalities)
    # For single-task / single-modal baselines: which decoder(s) exist. Empty = all modalities.
    targets: tuple[str, ...] = ()
    # Encoder widths of the three resolution stages (full, 1/2, 1/4); decoders mirror them.
    widths: tuple[int, int, int] = (16, 32, 64)
    latent_channels: int = 64  # C of the shared latent C x H/4 x W/4
    # Decoders that take the shared skip connections (U-net); the paper: label only.
    skip_modalities: tuple[str, ...] = ("label",)
    class_names: tuple[str, ...] = NYU12_CLASSES
    palette: tuple[tuple[int, int, int], ...] = ()  # empty: NYU12 palette or a generated one
    depth_range: tuple[float, float] = (0.5, 10.0)  # linear map of depth to [0, 255] (§3.2)
    depth_units: str = "m"  # "m" or "disparity"
    input_size: tuple[int, int] = (96, 96)  # (H, W), §3.3
    dataset: str = "synthetic"
    init_std: float = (
        0.0  # 0: Kaiming-normal (a normal distribution scaled by fan-in); >0: N(0, std)
    )
    # MAE baseline (Cadena et al.): fully connected, on a downsampled grid to keep it tractable.
    mae_grid: tuple[int, int] = (24, 24)
    mae_hidden: int = 256
    mae_latent: int = 64

    def __post_init__(self) -> None:
        # Normalise lists (from JSON/YAML) to tuples so the config stays hashable and comparable.
        for name in (
            "modalities",
            "targets",
            "widths",
            "skip_modalities",
            "class_names",
            "depth_range",
            "input_size",
            "mae_grid",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        palette = self.palette
        if not palette:
            palette = (
                NYU12_PALETTE
                if self.class_names == NYU12_CLASSES
                else default_palette(len(self.class_names))
            )
        object.__setattr__(self, "palette", tuple(tuple(int(v) for v in c) for c in palette))
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:

        if self.method not in METHODS:
            raise ConfigError(f"Wrong method `{self.method}`, supported: {list(METHODS)}")
        for m in self.modalities + self.targets + self.skip_modalities:
            if m not in MODALITIES:
                raise ConfigError(
                    f"Unknown modality `{m}` in config, registered: {sorted(MODALITIES)}"
                )
        if len(set(self.modalities)) != len(self.modalities):
            raise ConfigError(f"modalities must be unique, got {list(self.modalities)}")
        for m in self.targets:
            if m not in self.modalities:
                raise ConfigError(
                    f"target `{m}` is not one of the modalities {list(self.modalities)}"
                )
        if len(self.widths) != 3 or any(int(w) < 1 for w in self.widths):
            raise ConfigError(
                f"widths must be 3 positive ints (full, 1/2, 1/4 resolution), got {self.widths}"
            )
        if self.latent_channels < 1:
            raise ConfigError(f"latent_channels must be >= 1, got {self.latent_channels}")
        if len(self.input_size) != 2 or any(s <= 0 or s % 4 for s in self.input_size):
            raise ConfigError(
                "input_size must be (H, W) divisible by 4 (two 2x2 poolings), "
                f"got {self.input_size}"
            )
        if "label" in self.modalities and not self.class_names:
            raise ConfigError("class_names must not be empty when the `label` modality is used")
        if len(self.class_names) > 255:
            raise ConfigError(
                f"at most 255 classes (255 is the ignore id), got {len(self.class_names)}"
            )
        if len(self.palette) != len(self.class_names):
            raise ConfigError(
                f"palette has {len(self.palette)} colours for {len(self.class_names)} classes"
            )
        lo, hi = self.depth_range
        if not (0 <= lo < hi):
            raise ConfigError(
                f"depth_range must be (min, max) with 0 <= min < max, got {self.depth_range}"
            )
        if self.depth_units not in ("m", "disparity"):
            raise ConfigError(f"depth_units must be 'm' or 'disparity', got {self.depth_units!r}")
        if self.method in ("enc-dec", "enc-dec-u") and len(self.decoder_modalities) != 1:
            raise ConfigError(
                f"method `{self.method}` is single-task: give exactly one target, "
                f"got {list(self.targets)}"
            )
        if self.method != "mmed" and "rgb" not in self.modalities:
            raise ConfigError(f"method `{self.method}` encodes RGB: `rgb` must be a modality")

    # ------------------------------------------------------------------ derived
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def encoder_modalities(self) -> tuple[str, ...]:
        """Modalities that get an encoder: all for mmed/mae, only RGB for the baselines."""
        return self.modalities if self.method in ("mmed", "mae") else ("rgb",)

    @property
    def decoder_modalities(self) -> tuple[str, ...]:
        if self.targets:
            return self.targets
        if self.method == "enc-decs":
            return tuple(m for m in self.modalities if m != "rgb")
        return self.modalities

    def uses_skip(self, modality: str) -> bool:
        if self.method == "enc-dec-u":
            return True
        if self.method == "enc-dec":
            return False
        return modality in self.skip_modalities

    def paths(self) -> tuple[tuple[str, str], ...]:
        """Every (encoder, decoder) conversion path the model has."""
        return tuple((s, d) for s in self.encoder_modalities for d in self.decoder_modalities)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown model config key(s) {unknown}; valid keys: {sorted(known)}"
            )
        try:
            return cls(**dict(data))
        except TypeError as exc:  # wrong value types end up here
            raise ConfigError(f"Invalid model config: {exc}") from exc

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        if name not in PRESETS:
            raise ConfigError(f"Wrong preset `{name}`, supported: {list(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)
