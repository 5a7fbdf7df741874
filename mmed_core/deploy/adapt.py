# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""Adapt a trained model to a camera without labels: re-estimate its BatchNorm statistics.

    mmed-adapt my_camera_frames/ --out runs/adapted/model.safetensors
    ros2 launch mmed_ros perception.launch.py weights:=runs/adapted/model.safetensors

Every layer of the network is conv + BatchNorm + ReLU; in eval mode each BatchNorm normalises
with the mean and variance it saw in training (running statistics). A model trained on
synthetic rooms therefore normalises a real camera's features with the statistics of rendered
ones. Re-estimating the running statistics from unlabelled frames of the target camera
(AdaBN: Li et al., "Revisiting Batch Normalization For Practical Domain Adaptation", 2016) is
the cheapest domain adaptation there is: no labels, no gradients, no weight changes; one
forward pass over the frames. docs/SIM2REAL.md ("Adapting to your camera") measures it on
real NYUDv2 frames.

Only the BatchNorm layers the given paths pass through are re-estimated (the encoders of their
sources, the decoders of their targets); every other layer keeps its statistics. Decoders are
shared by every source, so adapting ``rgb->label`` also changes what ``depth->label`` uses: the
adapted model's card lists the paths it was adapted for, and those are the paths to run.
The statistics are the average of the per-batch statistics (PyTorch's cumulative average,
``momentum=None``), each batch normalised by its own statistics as in training.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mmed_core.errors import ConfigError, InputError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.modalities import prepare_inputs

__all__ = [
    "Recalibration",
    "recalibrate_batchnorm",
    "adaptation_record",
    "replaced_adaptation_note",
    "ADAPTATION_METHOD",
]

#: The ``method`` of an adaptation record in a model card.
ADAPTATION_METHOD = "batchnorm-statistics"


@dataclass(frozen=True)
class Recalibration:
    """What :func:`recalibrate_batchnorm` did: the frames it saw, the BatchNorm layers whose
    statistics it replaced (module names) and the paths it ran."""

    frames: int
    modules: tuple[str, ...]
    paths: tuple[tuple[str, str], ...]


@torch.no_grad()
def recalibrate_batchnorm(
    model: MultiModalModel,
    batches: Iterable[Mapping[str, torch.Tensor]],
    paths: Iterable[tuple[str, str]],
) -> Recalibration:
    """Replace the running statistics of the BatchNorm layers on ``paths`` by those of
    ``batches`` (each a mapping source -> raw-unit tensor (B, C, H, W), as
    :func:`~mmed_core.network.modalities.prepare_inputs` takes them; every batch holds every
    source of ``paths``). The model is left in eval mode; the layers the paths do not reach keep
    their statistics, and so does every layer when ``batches`` is empty (InputError)."""

    wanted = tuple((str(s), str(d)) for s, d in paths)
    if not wanted:
        raise ConfigError("paths: expected at least one (source, target) path, got none")
    missing = [f"{s}->{d}" for s, d in wanted if (s, d) not in set(model.config.paths())]
    if missing:
        raise ConfigError(
            f"paths {missing}: not in this model; it has "
            f"{[f'{s}->{d}' for s, d in model.config.paths()]}"
        )
    sources = tuple(dict.fromkeys(s for s, _ in wanted))
    norms = {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }
    if not norms:
        raise ConfigError(
            f"this {model.config.method} model has no BatchNorm layers: nothing to adapt"
        )
    saved = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in norms.items()}
    momenta = {n: m.momentum for n, m in norms.items()}
    touched: set[str] = set()
    hooks = [
        m.register_forward_pre_hook(lambda _m, _x, name=n: touched.add(name))
        for n, m in norms.items()
    ]
    model.eval()
    for m in norms.values():
        if not m.track_running_stats:
            continue
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    ref = next(model.parameters())
    frames = 0
    try:
        for k, batch in enumerate(batches):
            absent = [s for s in sources if s not in batch]
            if absent:
                raise InputError(
                    f"adaptation batch {k}: the paths read {list(sources)}, the batch lacks "
                    f"{absent} (it has {sorted(batch)})"
                )
            sizes = {int(batch[s].shape[0]) for s in sources}
            if len(sizes) != 1:
                raise InputError(
                    f"adaptation batch {k}: its sources hold different numbers of frames "
                    f"({ {s: int(batch[s].shape[0]) for s in sources} })"
                )
            net = prepare_inputs({s: batch[s] for s in sources}, model.config)
            model({s: _like(x, ref) for s, x in net.items()}, paths=wanted)
            frames += sizes.pop()
    except BaseException:
        _restore(norms, saved, momenta, set(norms))
        raise
    finally:
        for h in hooks:
            h.remove()
    if frames == 0:
        _restore(norms, saved, momenta, set(norms))
        raise InputError("adaptation: no frames given; nothing was changed")
    _restore(norms, saved, momenta, set(norms) - touched)
    return Recalibration(frames, tuple(n for n in norms if n in touched), wanted)


def _like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``x`` on ``ref``'s device, floating point in ``ref``'s dtype (the model's)."""
    return x.to(ref.device, ref.dtype) if x.is_floating_point() else x.to(ref.device)


def _restore(
    norms: Mapping[str, nn.Module],
    saved: dict[str, dict[str, torch.Tensor]],
    momenta: dict[str, Any],
    names: set[str],
) -> None:
    """Put back the statistics of ``names``; every layer gets its momentum back and eval mode."""
    for n, m in norms.items():
        if n in names:
            m.load_state_dict(saved[n])
        m.momentum = momenta[n]
        m.eval()


def adaptation_record(
    result: Recalibration,
    *,
    source: str,
    resize: str,
    base: Mapping[str, Any] | None = None,
    base_path: str | None = None,
) -> dict[str, Any]:
    """The card entry of an adapted checkpoint: how, from what and on which paths. ``base``: the
    card of the model it was adapted from (its weights' sha256 is kept), ``base_path`` its file;
    ``source``: where the frames came from, in words (folders, a bag and its topics)."""
    record: dict[str, Any] = {
        "method": ADAPTATION_METHOD,
        "frames": result.frames,
        "source": source,
        "paths": [list(p) for p in result.paths],
        "resize": resize,
        "layers": len(result.modules),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if base_path is not None:
        record["base"] = base_path
    if base is not None:
        record["base_sha256"] = (base.get("weights") or {}).get("sha256")
        previous = base.get("adaptation")
        if previous:
            record["previous"] = previous
    return record


def replaced_adaptation_note(card: Mapping[str, Any]) -> str | None:
    """A line for a user adapting a model whose statistics were already re-estimated (its card
    has an ``adaptation`` entry, e.g. the shipped model's): what is being replaced. None else."""
    previous = card.get("adaptation")
    if not isinstance(previous, Mapping):
        return None
    return (
        f"this model's BatchNorm statistics were re-estimated before (from "
        f"{previous.get('source', '?')}); the layers adapted now replace them. Score the "
        "result on labelled frames of your camera: on real NYUDv2 frames, re-estimating the "
        "shipped model's from camera frames lowered its mIoU (docs/SIM2REAL.md, 'Adapting to "
        "your camera')"
    )
