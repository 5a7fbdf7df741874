# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The multi-path loss with each decoder run once per step over all encoders' latents.

    python -m benchmarks.bench_training   # naive loop vs this step, images/s

Same signature and return as :func:`mmed_core.network.losses.multipath_loss`. The naive loop
decodes every (source, target) pair separately: N sources x M decoders calls. Here each source is
encoded once (as before) and each decoder runs once, on the latents (and shared skips) of all
its sources concatenated along the batch, so a step makes N + M module calls instead of N + NM,
and every convolution sees a batch N times larger.

What "the same loss and gradients" means here, precisely:

* **Convolutions, ReLU, pooling, losses** act per sample, so concatenating is exact.
* **BatchNorm in eval mode** uses running statistics: exact, and the decoder runs unchanged.
* **BatchNorm in train mode** normalises with the statistics of the batch it sees. Concatenating
  sources would mix them (rgb latents normalised together with depth latents), which changes
  the loss. So every decoder BatchNorm here normalises each source's slice with that slice's
  own statistics (*per-source statistics*): exactly what the naive loop computes, running
  statistics included (each slice updates them in the same order as the naive loop's calls).
  Only float summation order differs, so results agree to float32 round-off, not bitwise.

Unpaired samples: as in the naive loop, a path (s, t) is decoded only on the samples that have
both s and t (``presence_masks``), so an unpaired RGB sample reaches only the rgb decoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from mmed_core.errors import InputError
from mmed_core.network.base import Encoded, MultiModalModel
from mmed_core.network.losses import PathLosses, check_batch, source_input
from mmed_core.network.mmed import ConvBlock, Decoder, unpool
from mmed_core.network.modalities import get_modality

__all__ = ["batched_multipath_loss", "decode_grouped"]


def _grouped_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """BatchNorm of ``x`` where each consecutive slice of ``sizes`` samples gets its own batch
    statistics, as if each slice had gone through ``bn`` on its own (train mode)."""
    if len(sizes) == 1 or not bn.training:
        return bn(x)
    # F.batch_norm updates the running buffers in place, slice after slice, which reproduces
    # the sequence of updates of separate calls; the momentum rule is nn.BatchNorm2d's own.
    if bn.momentum is None:  # cumulative average: nn.BatchNorm2d derives it from the counter
        raise InputError(
            "BatchNorm with momentum=None (cumulative average) is not supported by the "
            "batched step; use multipath_loss or a numeric momentum"
        )
    if bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(len(sizes))
    parts = [
        F.batch_norm(
            part, bn.running_mean, bn.running_var, bn.weight, bn.bias, True, bn.momentum, bn.eps
        )
        for part in x.split(list(sizes))
    ]
    return torch.cat(parts)


def _block(block: nn.Module, x: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    if not isinstance(block, ConvBlock):
        raise InputError(f"decode_grouped: expected ConvBlock stages, got {type(block).__name__}")
    conv, bn, relu = block
    return relu(_grouped_batch_norm(cast(nn.BatchNorm2d, bn), conv(x), sizes))  # ConvBlock's BN


def _stage(stage: nn.Sequential, x: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    for block in stage:
        x = _block(block, x, sizes)
    return x


def decode_grouped(
    decoder: Decoder,
    latent: torch.Tensor,
    skips: tuple[torch.Tensor, ...] | None,
    sizes: Sequence[int],
) -> torch.Tensor:
    """``decoder(latent, skips)`` on a batch made of consecutive groups of ``sizes`` samples,
    each group normalised by its own BatchNorm statistics in train mode.

    Mirrors :meth:`mmed_core.network.mmed.Decoder.forward` (without the final resize);
    ``test/test_batched.py`` checks the two agree.
    """
    if sum(sizes) != latent.shape[0]:
        raise InputError(
            f"decode_grouped: group sizes {list(sizes)} sum to {sum(sizes)}, "
            f"but the latent has {latent.shape[0]} samples"
        )
    x = unpool(_stage(decoder.stage3, latent, sizes))
    if decoder.skip:
        if skips is None:
            raise InputError("this decoder uses shared skips but none were given")
        x = torch.cat([x, skips[1]], dim=1)
    x = unpool(_stage(decoder.stage2, x, sizes))
    if decoder.skip and skips is not None:  # None raised above
        x = torch.cat([x, skips[0]], dim=1)
    return decoder.head(_stage(decoder.stage1, x, sizes))


def _needs_groups(decoder: nn.Module) -> bool:
    """Whether concatenating sources would change this decoder's output (train-mode BN)."""
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in decoder.modules()
    )


class _Group(NamedTuple):
    """The samples of one path (src, dst): the source's encoding restricted to them."""

    src: str
    encoded: Encoded  # already restricted to the rows that also have ``dst``
    rows: torch.Tensor  # the same samples as rows of the input batch (for the targets)


def batched_multipath_loss(
    model: MultiModalModel,
    batch: Mapping[str, torch.Tensor],
    paths: tuple[tuple[str, str], ...] | None = None,
    weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, PathLosses]:
    """Drop-in for :func:`mmed_core.network.losses.multipath_loss` that decodes each decoder once.

    Returns (total, per-path losses) with the same keys, in the same order, and the same values
    and gradients (to float round-off; see the module docstring for train-mode BatchNorm).
    """
    cfg = model.config
    paths, present = check_batch(model, batch, paths)

    encoded: dict[str, tuple[Encoded, torch.Tensor]] = {}  # src -> encoding, its batch rows
    for src in dict.fromkeys(s for s, _ in paths):
        idx = present[src].nonzero().squeeze(1)
        if idx.numel():
            x = get_modality(src).to_network(source_input(batch, src).index_select(0, idx), cfg)
            encoded[src] = (model.encode(src, x), idx)

    per_path: PathLosses = {}
    for dst in dict.fromkeys(d for _, d in paths):
        groups: list[_Group] = []
        for src in encoded:  # source order, as the naive loop: BN running stats update alike
            if (src, dst) not in paths:
                continue
            enc, idx = encoded[src]
            sel = present[dst].index_select(0, idx).nonzero().squeeze(1)
            if sel.numel() == 0:
                continue
            whole = sel.numel() == idx.numel()
            groups.append(_Group(src, enc if whole else enc.select(sel), idx.index_select(0, sel)))
        if not groups:
            continue
        per_path.update(_decode_dst(model, dst, groups, batch, cfg))
    if not per_path:
        raise InputError(
            "no path has a sample with both its source and target modality in this batch"
        )
    # The naive loop's order (source-major), so the total sums in the same order.
    order = [
        p
        for src in dict.fromkeys(s for s, _ in paths)
        for p in paths
        if p[0] == src and p in per_path
    ]
    per_path = {p: per_path[p] for p in order}
    w = weights or {}
    total = torch.stack(
        [loss * float(w.get(dst, 1.0)) for (_, dst), loss in per_path.items()]
    ).sum()
    return total, per_path


def _decode_dst(
    model: MultiModalModel,
    dst: str,
    groups: list[_Group],
    batch: Mapping[str, torch.Tensor],
    cfg: Any,
) -> PathLosses:
    """Decode all groups of target ``dst`` in one call; return their per-path mean losses."""
    decoder = model.decoders[dst]
    sizes = [g.encoded.latent.shape[0] for g in groups]
    parts = [g.encoded for g in groups]
    if not getattr(decoder, "skip", False):  # skips this decoder never reads are not copied
        parts = [replace(p, skips=()) for p in parts]
    enc = Encoded.cat(parts)
    if isinstance(decoder, Decoder) and len(groups) > 1 and _needs_groups(decoder):
        y = decode_grouped(decoder, enc.latent, enc.skips if decoder.skip else None, sizes)
    else:  # eval-mode BN or no BN: concatenation is exact, the model's own decode runs
        y = model.decode(dst, enc)
    target = batch[dst].index_select(0, torch.cat([g.rows for g in groups]))
    if y.shape[-2:] != target.shape[-2:]:
        y = F.interpolate(y, size=target.shape[-2:], mode="bilinear", align_corners=False)
    per_sample = get_modality(dst).loss_per_sample(y, target, cfg)
    return {(g.src, dst): part.mean() for g, part in zip(groups, per_sample.split(sizes))}
