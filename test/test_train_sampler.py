# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The paired/unpaired batch sampler: a paired sample in every batch, per-epoch shuffling, DDP
shards.

python -m pytest test/test_train_sampler.py
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmed_core.errors import ConfigError
from mmed_core.training.sampler import PairedBatchSampler


@settings(max_examples=60, deadline=None)
@given(
    n_paired=st.integers(1, 30),
    n_unpaired=st.integers(0, 60),
    batch=st.integers(1, 9),
    world=st.integers(1, 3),
    epoch=st.integers(0, 5),
)
def test_every_batch_has_a_paired_sample(n_paired, n_unpaired, batch, world, epoch):
    paired = [True] * n_paired + [False] * n_unpaired
    if (len(paired) + batch - 1) // batch < world:
        return  # fewer batches than processes is a ConfigError, tested below
    shards = []
    for rank in range(world):
        s = PairedBatchSampler(paired, batch, seed=3, rank=rank, world_size=world)
        s.set_epoch(epoch)
        shards.append(list(s))
        assert len(shards[-1]) == len(s)
        assert all(any(paired[i] for i in b) for b in shards[-1])
    assert len({len(x) for x in shards}) == 1  # every rank runs the same number of steps
    if n_paired >= -(-len(paired) // batch) and world == 1:
        # enough paired samples to go round: an epoch is a permutation of the whole set
        assert sorted(i for b in shards[0] for i in b) == list(range(len(paired)))


def test_epochs_differ_and_repeat():
    s = PairedBatchSampler([True] * 10 + [False] * 20, 4, seed=0)
    assert s.epoch_batches(0) == s.epoch_batches(0)
    assert s.epoch_batches(0) != s.epoch_batches(1)
    s.set_epoch(1, start=3)
    assert list(s) == s.epoch_batches(1)[3:]


def test_ranks_are_disjoint():
    paired = [True] * 16 + [False] * 16
    a = PairedBatchSampler(paired, 4, rank=0, world_size=2)
    b = PairedBatchSampler(paired, 4, rank=1, world_size=2)
    ia, ib = {i for x in a for i in x}, {i for x in b for i in x}
    assert not ia & ib and len(ia) + len(ib) == 32


def test_no_paired_sample_is_an_error():
    with pytest.raises(ConfigError, match="none is paired"):
        PairedBatchSampler([False] * 4, 2)
