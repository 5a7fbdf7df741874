# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""Batch samplers that mix paired and unpaired samples (``data.extra``).

``PairedBatchSampler`` is the paper's mixing (``data.extra_per_batch: 0``); ``StepMatchedSampler``
(``data.extra_per_batch: N``) keeps the epochs of a run without extra data and adds N unpaired
samples to every batch, so "+extra" gets the same number of steps and full paired batches.

    python -c "from mmed_core.training.sampler import PairedBatchSampler as S; \
        s=S([True]*3+[False]*9, 4); print(list(s))"

Paper §3.3: paired and unpaired data "are mixed randomly in every epoch" and every mini-batch
holds "at least one labeled RGB image". Each epoch draws one permutation of all samples from
``seed + epoch`` (so any process can rebuild it), cuts it into batches and repairs every batch
without a paired sample by swapping one in from a batch that has two or more; if there are
fewer paired samples than batches, a random paired sample is repeated in place of an unpaired
one. Under DDP every rank takes every ``world_size``-th batch of the same list, and the list is
cut to a multiple of ``world_size`` so all ranks run the same number of steps (the role
DistributedSampler plays for plain datasets). ``start`` skips batches already trained when a
run resumes mid-epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from mmed_core.errors import ConfigError

__all__ = ["PairedBatchSampler", "StepMatchedSampler"]


class PairedBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices; ``paired[i]`` says whether sample ``i`` is paired."""

    def __init__(
        self,
        paired: Sequence[bool],
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in [0, {world_size}), got {rank}")
        self.paired = torch.as_tensor(list(paired), dtype=torch.bool)
        if not bool(self.paired.any()):
            raise ConfigError(
                f"the training set has {len(self.paired)} samples but none is paired; "
                "every batch needs at least one paired sample"
            )
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's permutation; skip its first ``start`` batches (resume)."""
        self.epoch, self.start = epoch, start

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch`` for all ranks (identical on every process)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.paired), generator=g)
        batches = [perm[i : i + self.batch_size] for i in range(0, len(perm), self.batch_size)]
        if self.drop_last and len(batches) > 1 and len(batches[-1]) < self.batch_size:
            batches.pop()
        batches = [b.clone() for b in batches]
        self._repair(batches, g)
        usable = len(batches) - len(batches) % self.world_size
        if usable == 0:
            raise ConfigError(
                f"{len(self.paired)} training samples give {len(batches)} batch(es) of "
                f"{self.batch_size}: fewer than the {self.world_size} processes"
            )
        return [b.tolist() for b in batches[:usable]]

    def _repair(self, batches: list[torch.Tensor], g: torch.Generator) -> None:
        counts = [int(self.paired[b].sum()) for b in batches]
        paired_ids = self.paired.nonzero().squeeze(1)
        for i, b in enumerate(batches):
            if counts[i]:
                continue
            donor = next((j for j, c in enumerate(counts) if c >= 2), None)
            if donor is None:  # not enough paired samples to go round: repeat a random one
                b[0] = paired_ids[torch.randint(len(paired_ids), (1,), generator=g)]
            else:
                d = batches[donor]
                k = int(self.paired[d].nonzero()[0])
                b[0], d[k] = d[k].clone(), b[0].clone()
                counts[donor] -= 1
            counts[i] = 1

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.epoch_batches(self.epoch)[self.rank :: self.world_size]
        yield from mine[self.start :]

    def __len__(self) -> int:
        """Batches per rank per epoch (before skipping ``start``)."""
        n = len(self.paired)
        full, rest = divmod(n, self.batch_size)
        batches = full + (1 if rest and not (self.drop_last and full) else 0)
        return (batches - batches % self.world_size) // self.world_size


class StepMatchedSampler(Sampler[list[int]]):
    """``data.extra_per_batch`` > 0: the run without extra data, plus unpaired samples on top.

    Every batch holds exactly the ``batch_size`` paired samples the same seed gives a run without
    the unpaired data (so an epoch has the same number of steps and the cross-modal decoders'
    BatchNorm sees the same full paired batches), followed by ``extra_per_batch`` unpaired
    samples drawn without replacement from a permutation of the unpaired set (re-drawn when
    exhausted). Paired samples must come first in the dataset, as ``build_datasets`` puts them.
    """

    def __init__(
        self,
        paired: Sequence[bool],
        batch_size: int,
        extra_per_batch: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        flags = torch.as_tensor(list(paired), dtype=torch.bool)
        n_paired = int(flags.sum())
        if n_paired == 0 or bool(flags[n_paired:].any()) or bool((~flags[:n_paired]).any()):
            raise ConfigError(
                "the step-matched sampler needs the paired samples first and at least one "
                f"(got {n_paired} paired of {len(flags)}, not all first)"
            )
        if extra_per_batch < 1:
            raise ConfigError(f"extra_per_batch must be >= 1, got {extra_per_batch}")
        if n_paired == len(flags):
            raise ConfigError(
                "data.extra_per_batch > 0 needs unpaired samples (set data.extra: true)"
            )
        self.paired_sampler = PairedBatchSampler(
            [True] * n_paired, batch_size, seed=seed, rank=rank, world_size=world_size
        )
        self.n_paired, self.n_unpaired = n_paired, len(flags) - n_paired
        self.extra_per_batch, self.seed = extra_per_batch, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch`` for all ranks (identical on every process)."""
        batches = self.paired_sampler.epoch_batches(epoch)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + 7_919_000)
        need = len(batches) * self.extra_per_batch
        pool: list[int] = []
        while len(pool) < need:
            pool += (self.n_paired + torch.randperm(self.n_unpaired, generator=g)).tolist()
        m = self.extra_per_batch
        return [b + pool[i * m : (i + 1) * m] for i, b in enumerate(batches)]

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.epoch_batches(self.epoch)[self.rank :: self.world_size]
        yield from mine[self.start :]

    def __len__(self) -> int:
        return len(self.paired_sampler)
