# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""How the per-path losses become the one loss the optimiser sees (``train.balance``).

    mmed-train --config config/train_synthetic.yaml train.balance=uncertainty

- ``none`` (the paper, §3.2): the sum of the per-path losses, each scaled by
  ``train.loss_weights[target]`` (default 1).
- ``uncertainty`` (Kendall, Gal & Cipolla, CVPR 2018): every path p gets a learned log-scale
  s_p (initialised 0) and contributes ``w * (exp(-s_p) * L_p + s_p)``, the negative
  log-likelihood of a Laplace / Gaussian with scale exp(s_p) up to constants; a path whose loss
  stays large gets down-weighted, a small one up-weighted. The s_p are trained by the same
  optimiser without weight decay and saved in the resumable state (not in the model checkpoint).
- ``dwa`` (dynamic weight average, Liu, Johns & Davison, CVPR 2019): path p is weighted
  ``K * softmax_p(r_p / T)`` with r_p = L_p(epoch-1) / L_p(epoch-2) from the epoch means of the
  training losses (K paths, T = 2); the first two epochs use 1. The weights come from the run's
  history, so a resumed run computes the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from mmed_core.errors import ConfigError
from mmed_core.training.config import BALANCE_MODES

__all__ = ["LossBalancer", "BALANCE_MODES", "path_name"]

DWA_TEMPERATURE = 2.0


def path_name(path: tuple[str, str]) -> str:
    """``("rgb", "depth")`` -> ``rgb2depth`` (the key in history rows and parameter names)."""
    return f"{path[0]}2{path[1]}"


class LossBalancer(nn.Module):
    """Combines ``{path: loss}`` into the training loss according to ``mode``."""

    def __init__(
        self, mode: str, paths: Sequence[tuple[str, str]], weights: Mapping[str, float]
    ) -> None:
        super().__init__()
        if mode not in BALANCE_MODES:
            raise ConfigError(f"train.balance must be one of {list(BALANCE_MODES)}, got {mode!r}")
        self.mode, self.paths, self.weights = mode, tuple(paths), dict(weights)
        self.log_scale = nn.ParameterDict(
            {path_name(p): nn.Parameter(torch.zeros(())) for p in self.paths}
            if mode == "uncertainty"
            else {}
        )
        self.dwa: dict[str, float] = {path_name(p): 1.0 for p in self.paths}

    def start_epoch(self, history: Sequence[Mapping[str, Any]]) -> None:
        """DWA: set this epoch's path weights from the last two epochs' training losses."""
        if self.mode != "dwa":
            return
        keys = [path_name(p) for p in self.paths]
        self.dwa = dict.fromkeys(keys, 1.0)
        if len(history) < 2:
            return
        prev, prev2 = history[-1], history[-2]
        ratios = {}
        for k in keys:
            a, b = prev.get(f"train_{k}"), prev2.get(f"train_{k}")
            if a is None or b is None or not b > 0:
                return  # a path missing from an epoch: keep equal weights
            ratios[k] = float(a) / float(b)
        top = max(ratios.values())
        e = {k: math.exp((r - top) / DWA_TEMPERATURE) for k, r in ratios.items()}
        z = sum(e.values())
        self.dwa = {k: len(keys) * v / z for k, v in e.items()}

    def forward(self, per_path: Mapping[tuple[str, str], torch.Tensor]) -> torch.Tensor:
        terms = []
        for p, loss in per_path.items():
            w = float(self.weights.get(p[1], 1.0))
            if self.mode == "uncertainty":
                s = self.log_scale[path_name(p)]
                terms.append(w * (torch.exp(-s) * loss + s))
            elif self.mode == "dwa":
                terms.append(loss * (w * self.dwa[path_name(p)]))
            else:
                terms.append(loss * w)
        return torch.stack(terms).sum()

    def describe(self) -> dict[str, float]:
        """The current effective weight of every path (for the log)."""
        if self.mode == "uncertainty":
            return {k: float(torch.exp(-v.detach())) for k, v in self.log_scale.items()}
        if self.mode == "dwa":
            return dict(self.dwa)
        return {}
