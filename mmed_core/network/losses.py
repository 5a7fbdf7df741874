# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The multi-path training objective (paper §3.2).

    python -c "import mmed_core.network.losses as l; help(l.multipath_loss)"

Global loss = sum of the decoding losses of every encoder->decoder pair on paired samples; a
sample that only has some modalities (e.g. extra RGB without labels/depth) contributes only the
paths whose source and target it has - for unpaired RGB that is the self-encoding rgb->rgb loss.
Each path is decoded only on the samples that have its target, so an unpaired sample never
reaches a cross-modal decoder (no gradient, no BatchNorm statistics).

A batch may carry a separate *input* of a modality beside its target (``depth_input``: a
Kinect-like depth, ``rgb_input``: a colour-jittered image; key ``input_key(m)``): the encoder of
``m`` then reads it, and every loss still compares with the clean ``batch[m]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmed_core.errors import InputError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.modalities import check_raw, get_modality, input_key

__all__ = ["presence_masks", "check_batch", "multipath_loss", "source_input", "PathLosses"]

PathLosses = dict[tuple[str, str], torch.Tensor]


def presence_masks(
    batch: Mapping[str, torch.Tensor], modalities: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Which samples have which modality: ``batch["present"][m]`` if given, else RGB for every
    sample and the other modalities for samples with ``batch["paired"]`` (default: all paired).

    A sample whose modality holds nothing but its registry's ``missing`` value (a depth map
    without one measurement, a label map of void only: how :func:`mmed_core.data.collate.collate`
    and the datasets fill a frame that lacks it, e.g. a labelled-folder frame without a depth
    PNG) does not have it either: no path reads it as a source or scores it as a target."""
    ref = batch[modalities[0]] if modalities[0] in batch else next(iter(batch.values()))
    n = ref.shape[0]
    if "present" in batch:
        return {m: batch["present"][m].bool() for m in modalities}  # type: ignore[index]
    paired = batch.get("paired")
    paired = (
        torch.ones(n, dtype=torch.bool, device=ref.device)
        if paired is None
        else paired.bool().reshape(n)
    )
    out = {}
    for m in modalities:
        missing = get_modality(m).missing
        if m == "rgb" or missing is None:
            out[m] = torch.ones_like(paired) if m == "rgb" else paired
        elif m in batch:
            out[m] = paired & (batch[m] != missing).reshape(n, -1).any(1)
        else:
            out[m] = paired
    return out


def source_input(batch: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    """What the encoder of ``name`` reads: ``batch[input_key(name)]`` if the batch has a separate
    input of it (e.g. Kinect-like ``depth_input``), else ``batch[name]`` (also the target)."""
    return batch.get(input_key(name), batch[name])


def check_batch(
    model: MultiModalModel,
    batch: Mapping[str, torch.Tensor],
    paths: tuple[tuple[str, str], ...] | None,
) -> tuple[tuple[tuple[str, str], ...], dict[str, torch.Tensor]]:
    """(paths, presence masks) after checking that ``batch`` has every modality ``paths`` need."""
    cfg = model.config
    paths = tuple(paths) if paths is not None else cfg.paths()
    mods = tuple(dict.fromkeys([m for p in paths for m in p]))
    missing = [m for m in mods if m not in batch]
    if missing:
        raise InputError(
            f"batch lacks modality {missing} needed by paths {list(paths)}; has {sorted(batch)}"
        )
    for m in mods:
        check_raw(m, batch[m], cfg)
        if input_key(m) in batch:
            given = batch[input_key(m)]
            check_raw(m, given, cfg)
            if given.shape != batch[m].shape:
                raise InputError(
                    f"batch `{input_key(m)}` has shape {tuple(given.shape)} but `{m}` has "
                    f"{tuple(batch[m].shape)}; a separate input must match its target"
                )
    return paths, presence_masks(batch, mods)


def multipath_loss(
    model: MultiModalModel,
    batch: Mapping[str, torch.Tensor],
    paths: tuple[tuple[str, str], ...] | None = None,
    weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, PathLosses]:
    """Sum over paths of the mean per-sample loss of the samples that have source and target.

    ``weights`` optionally scales the loss of each *target* modality (default 1, as the paper).

    ``batch`` holds raw-unit tensors per modality (see :mod:`mmed_core.network.modalities`) and
    optionally ``paired`` (B,) or ``present`` {modality: (B,)}. Returns (total, per-path losses).
    """
    cfg = model.config
    paths, present = check_batch(model, batch, paths)
    per_path: PathLosses = {}
    for src in dict.fromkeys(s for s, _ in paths):
        idx = present[src].nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        x = get_modality(src).to_network(source_input(batch, src).index_select(0, idx), cfg)
        encoded = model.encode(src, x)
        for s, dst in paths:
            if s != src:
                continue
            sel = present[dst].index_select(0, idx).nonzero().squeeze(1)
            if sel.numel() == 0:
                continue
            y = model.decode(dst, encoded if sel.numel() == idx.numel() else encoded.select(sel))
            target = batch[dst].index_select(0, idx.index_select(0, sel))
            if y.shape[-2:] != target.shape[-2:]:
                y = nn.functional.interpolate(
                    y, size=target.shape[-2:], mode="bilinear", align_corners=False
                )
            per_path[(src, dst)] = get_modality(dst).loss_per_sample(y, target, cfg).mean()
    if not per_path:
        raise InputError(
            "no path has a sample with both its source and target modality in this batch"
        )
    w = weights or {}
    total = torch.stack(
        [loss * float(w.get(dst, 1.0)) for (_, dst), loss in per_path.items()]
    ).sum()
    return total, per_path
