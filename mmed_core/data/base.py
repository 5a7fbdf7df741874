# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What every mmed dataset shares: its info, the source protocol and the torch Dataset wrappers.

A *source* reads one sample at its native size (RGB uint8, depth float32 or None, label uint8
or None); the datasets resize it to the training size, either on the fly, in memory or through
the cache (:mod:`mmed_core.data.cache`). Exercised by ``pytest test/test_data_cache.py``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.data.resize import resize_depth, resize_label, resize_rgb

__all__ = [
    "DatasetInfo",
    "Source",
    "MmedDataset",
    "Sample",
    "ArrayDataset",
    "LazyDataset",
    "WrappedDataset",
    "materialize",
    "to_sample",
]

Sample = tuple[np.ndarray, "np.ndarray | None", "np.ndarray | None"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: its name, class names and colours, depth range and units."""

    name: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    depth_range: tuple[float, float]
    depth_units: str  # "m" or "disparity"


class Source(Protocol):
    """One split of a dataset at native resolution."""

    info: DatasetInfo
    paired: bool  # False: RGB only (extra data); depth and label are None

    def __len__(self) -> int: ...

    def load(self, index: int) -> Sample: ...

    def fingerprint(self) -> dict[str, Any]:
        """JSON-able identity of the content (files, sizes, options): the cache key is built on
        it."""
        ...


def _resized(sample: Sample, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rgb, depth, label = sample
    h, w = size
    rgb = resize_rgb(rgb, size)
    depth = np.zeros((h, w), np.float32) if depth is None else resize_depth(depth, size)
    label = np.full((h, w), IGNORE_INDEX, np.uint8) if label is None else resize_label(label, size)
    return rgb, depth, label


def to_sample(
    rgb: np.ndarray, depth: np.ndarray, label: np.ndarray, paired: bool
) -> dict[str, torch.Tensor]:
    """The dict every mmed dataset returns (see ``build_dataset``)."""
    return {
        "rgb": torch.from_numpy(
            np.ascontiguousarray(rgb, dtype=np.float32).transpose(2, 0, 1).copy()
        ),
        "depth": torch.from_numpy(np.array(depth, dtype=np.float32, copy=True))[None],
        "label": torch.from_numpy(np.asarray(label).astype(np.int64)),
        "paired": torch.tensor(bool(paired)),
    }


class WrappedDataset(Dataset):
    """A dataset that changes the samples of another (``self.dataset``): its length and its
    attributes (``info``, ...) are the wrapped dataset's."""

    dataset: Any

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


class ArrayDataset(Dataset):
    """Samples already resized, held in (memory-mapped) arrays: rgb (N,H,W,3) uint8,
    depth (N,H,W) float32, label (N,H,W) uint8."""

    def __init__(
        self,
        info: DatasetInfo,
        rgb: np.ndarray,
        depth: np.ndarray,
        label: np.ndarray,
        paired: bool,
    ) -> None:
        self.info, self.rgb, self.depth, self.label, self.paired = info, rgb, depth, label, paired

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(
                f"index {index} out of range for {self.info.name} ({len(self)} samples)"
            )
        return to_sample(self.rgb[index], self.depth[index], self.label[index], self.paired)


class LazyDataset(Dataset):
    """Reads and resizes each sample when asked (no cache): slow per epoch, nothing on disk."""

    def __init__(self, source: Source, size: tuple[int, int]) -> None:
        self.source, self.size, self.info, self.paired = source, size, source.info, source.paired

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(
                f"index {index} out of range for {self.info.name} ({len(self)} samples)"
            )
        return to_sample(*_resized(self.source.load(index % len(self)), self.size), self.paired)


# What build_dataset returns: in-memory (or memory-mapped) arrays, or a source read on the fly.
MmedDataset = ArrayDataset | LazyDataset


def _load_resized(
    job: tuple[Source, tuple[int, int], int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source, size, index = job
    return _resized(source.load(index), size)


def _load_chunk(
    job: tuple[Source, tuple[int, int], range],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    source, size, indices = job
    return [_resized(source.load(i), size) for i in indices]


def _parallel(
    source: Source, size: tuple[int, int], workers: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The resized samples in order, loaded by ``workers`` processes in chunks, with at most
    ``2 * workers`` chunks submitted ahead: memory stays bounded whatever ``len(source)``
    (``Executor.map`` would submit every chunk at once and hold results the writer has not
    taken yet)."""
    n = len(source)
    chunk = max(1, min(32, n // (4 * workers)))
    pending: deque[Future] = deque()
    with ProcessPoolExecutor(workers) as pool:
        try:
            for start in range(0, n, chunk):
                pending.append(
                    pool.submit(_load_chunk, (source, size, range(start, min(start + chunk, n))))
                )
                if len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:  # an error or an abandoned build: do not start the rest
                future.cancel()


def materialize(
    source: Source,
    size: tuple[int, int],
    out: tuple[np.ndarray, ...] | None = None,
    progress: Any = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All samples of ``source`` resized to ``size``, in three stacked arrays (``out`` if given,
    e.g. memory maps of the cache); ``workers`` > 1 decodes/renders in that many processes.

    Samples are loaded and written one at a time (in parallel: a few chunks ahead), so with
    ``out`` memory-mapped (the cache) the data set never has to fit in memory."""
    h, w = size
    n = len(source)
    rgb, depth, label = (
        out
        if out is not None
        else (
            np.zeros((n, h, w, 3), np.uint8),
            np.zeros((n, h, w), np.float32),
            np.zeros((n, h, w), np.uint8),
        )
    )
    if workers > 1 and n > 1:
        # Results come back in order, so the arrays do not depend on the number of workers.
        _fill(_parallel(source, size, workers), rgb, depth, label, progress)
    else:
        jobs = ((source, size, i) for i in range(n))
        _fill(map(_load_resized, jobs), rgb, depth, label, progress)
    return rgb, depth, label


def _fill(
    results: Any, rgb: np.ndarray, depth: np.ndarray, label: np.ndarray, progress: Any
) -> None:
    for i, (r, d, lab) in enumerate(results):
        rgb[i], depth[i], label[i] = r, d, lab
        if progress is not None:
            progress.update(1)
