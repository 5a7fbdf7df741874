# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""The statistics of the experiment protocol: means with t confidence intervals, paired t-tests
(paired by seed) and Holm's step-down correction for a family of tests.

    python -c "from mmed_core.evaluation.statistics import mean_ci; print(mean_ci([1, 2, 3]))"

Two-sided throughout; the t quantiles and tail probabilities come from ``scipy.stats.t``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from scipy import stats

__all__ = ["MeanCI", "PairedTest", "mean_ci", "paired_t", "holm", "pairs_for_power"]


@dataclasses.dataclass(frozen=True)
class MeanCI:
    """A sample mean with its sample standard deviation and t confidence interval."""

    mean: float
    sd: float  # sample standard deviation (n - 1); NaN for n < 2
    n: int
    low: float  # confidence interval of the mean; NaN for n < 2
    high: float


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """A paired t-test of a - b over seeds: the difference's mean/CI, t and p."""

    diff: MeanCI  # of a - b over the pairs
    t: float
    p: float  # two-sided; NaN for fewer than 2 pairs


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> MeanCI:
    """Mean and its Student-t confidence interval (None/NaN values are left out)."""
    x = _finite(values)
    n = len(x)
    if n == 0:
        nan = float("nan")
        return MeanCI(nan, nan, 0, nan, nan)
    m = sum(x) / n
    if n < 2:
        nan = float("nan")
        return MeanCI(m, nan, 1, nan, nan)
    sd = math.sqrt(sum((v - m) ** 2 for v in x) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return MeanCI(m, sd, n, m - half, m + half)


def paired_t(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> PairedTest:
    """Paired t-test of ``a`` against ``b`` (same length, pair i = seed i)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    d = [float(x) - float(y) for x, y in zip(a, b)]
    ci = mean_ci(d, level)
    if ci.n < 2:
        return PairedTest(ci, float("nan"), float("nan"))
    if ci.sd == 0:
        t = 0.0 if ci.mean == 0 else math.copysign(math.inf, ci.mean)
        return PairedTest(ci, t, 1.0 if ci.mean == 0 else 0.0)
    t = ci.mean / (ci.sd / math.sqrt(ci.n))
    p = float(2 * stats.t.sf(abs(t), ci.n - 1))
    return PairedTest(ci, t, p)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order; NaN stays NaN and is not counted)."""
    idx = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    m = len(idx)
    out = [float("nan")] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def pairs_for_power(
    diff: float, sd: float, alpha: float = 0.05, power: float = 0.8, most: int = 1000
) -> int | None:
    """Smallest number of pairs for which a two-sided paired t-test at ``alpha`` detects a true
    mean difference ``diff`` (pair-difference sd ``sd``) with probability ``power`` (noncentral
    t). None when it takes more than ``most`` pairs or the inputs say nothing (sd or diff 0/NaN).
    """
    if not (math.isfinite(diff) and math.isfinite(sd)) or diff == 0 or sd <= 0:
        return None
    effect = abs(diff) / sd
    for n in range(2, most + 1):
        df = n - 1
        crit = float(stats.t.ppf(1 - alpha / 2, df))
        nc = effect * math.sqrt(n)
        p = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
        if p >= power:
            return n
    return None
