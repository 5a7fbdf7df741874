# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Parameters and FLOPs per conversion path, counted from the layer shapes.

    python -m mmed_core.network.flops [--size 96]

A multiply-add counts as 2 FLOPs. Only Conv2d and Linear layers are counted (BatchNorm, ReLU,
pooling and un-pooling are memory-bound and add < 2%).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from functools import partial

import torch
from torch import nn

from mmed_core.network.config import PRESETS, ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.modalities import get_modality

__all__ = ["count_flops", "path_flops"]


def count_flops(module: nn.Module, run: Callable[[], object]) -> int:
    """FLOPs of the Conv2d/Linear layers of ``module`` during ``run()``."""
    total = 0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total += 2 * k * out.numel()
        elif isinstance(m, nn.Linear):
            total += 2 * m.in_features * out.numel()

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return total


def path_flops(
    config: ModelConfig, paths: Iterable[tuple[str, str]] | None = None
) -> dict[tuple[str, str], int]:
    """FLOPs of one 1 x input_size sample through each (source, target) path."""
    model = create_model(config).eval()
    h, w = config.input_size
    result = {}
    for src, dst in paths or config.paths():
        x = torch.zeros(1, get_modality(src).num_channels(config), h, w)
        result[(src, dst)] = count_flops(model, partial(model, {src: x}, paths=[(src, dst)]))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=96, help="square input size (default 96)")
    args = ap.parse_args(argv)
    print(
        "| preset | params (mmed, 3 modalities) | path | "
        f"GFLOPs per {args.size}x{args.size} frame |"
    )
    print("|---|---|---|---|")
    for name in PRESETS:
        cfg = ModelConfig.preset(name, input_size=(args.size, args.size))
        params = sum(p.numel() for p in create_model(cfg).parameters())
        for (s, d), f in path_flops(
            cfg, [("rgb", "label"), ("rgb", "depth"), ("depth", "label")]
        ).items():
            print(f"| {name} | {params / 1e6:.2f} M | {s}->{d} | {f / 1e9:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
