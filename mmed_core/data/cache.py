# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Preprocessing cache: a split resized once into memory-mapped ``.npy`` arrays plus a manifest.

Layout: ``CACHE_DIR/<dataset>-<split>/{rgb,depth,label}.npy, manifest.json``. The manifest
records the source's fingerprint (files, sizes, options), the config (training size) and a
content hash; a cache whose key differs from the request is rebuilt. A cache is built in a
temporary sibling folder and renamed into place only when complete, with its manifest written
last, so a crash never leaves a half-built cache that would be used. Build one with
``mmed-data cache NAME --root ROOT --cache-dir DIR``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mmed_core.atomic import atomic_write_json
from mmed_core.data.base import ArrayDataset, DatasetInfo, Source, materialize
from mmed_core.errors import DatasetError
from mmed_core.progress import progress as progress_report

__all__ = [
    "CACHE_VERSION",
    "cache_key",
    "cached_dataset",
    "build_cache",
    "load_cache",
    "cache_folder",
]

CACHE_VERSION = 1
_ARRAYS = {"rgb": (np.uint8, 3), "depth": (np.float32, 0), "label": (np.uint8, 0)}


def cache_key(source: Source, size: tuple[int, int]) -> str:
    """Hash of everything that decides the cache's content."""
    blob = json.dumps(
        {
            "version": CACHE_VERSION,
            "source": source.fingerprint(),
            "size": list(size),
            "info": asdict(source.info),
            "paired": source.paired,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_folder(cache_dir: str | os.PathLike[str], name: str, split: str) -> Path:
    return Path(cache_dir) / f"{name}-{split}"


def _content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in _ARRAYS:
        with open(folder / f"{name}.npy", "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def build_cache(
    source: Source,
    size: tuple[int, int],
    folder: str | os.PathLike[str],
    *,
    progress: bool = True,
    workers: int = 1,
) -> Path:
    """Build the cache of ``source`` at ``size`` into ``folder`` (replacing what is there)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    n, (h, w) = len(source), size
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        out = tuple(
            np.lib.format.open_memmap(
                tmp / f"{name}.npy",
                mode="w+",
                dtype=dtype,
                shape=(n, h, w, ch) if ch else (n, h, w),
            )
            for name, (dtype, ch) in _ARRAYS.items()
        )
        # a bar on a terminal, a plain line every 30 s in a log
        with progress_report(n, f"cache {folder.name}", "img", enabled=progress) as bar:
            materialize(source, size, out=out, progress=bar, workers=workers)
        for array in out:
            array.flush()
        del out
        manifest = {
            "format": "mmed-cache",
            "version": CACHE_VERSION,
            "key": cache_key(source, size),
            "source": source.fingerprint(),
            "config": {"size": [h, w]},
            "count": n,
            "paired": source.paired,
            "info": asdict(source.info),
            "content_hash": _content_hash(tmp),
        }
        atomic_write_json(tmp / "manifest.json", manifest)  # last: marks the folder complete
        _swap_in(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _swap_in(tmp: Path, folder: Path) -> None:
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, old / "cache")
    try:
        os.replace(tmp, folder)
    except OSError:
        # Another process (a DDP rank) renamed its own complete build in first: keep that one.
        if not (folder / "manifest.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return (
        manifest if isinstance(manifest, dict) and manifest.get("format") == "mmed-cache" else None
    )


def load_cache(folder: str | os.PathLike[str], *, verify: bool = False) -> ArrayDataset:
    """Open a complete cache folder with memory maps; ``verify`` re-hashes the arrays."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if manifest is None:
        raise DatasetError(f"{folder}: not a complete mmed cache (expected a valid manifest.json)")
    n, (h, w) = manifest["count"], manifest["config"]["size"]
    arrays = []
    for name, (dtype, ch) in _ARRAYS.items():
        path = folder / f"{name}.npy"
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable cache array ({exc})") from exc
        shape = (n, h, w, ch) if ch else (n, h, w)
        if array.shape != shape or array.dtype != dtype:
            raise DatasetError(
                f"{path}: expected {np.dtype(dtype).name} {shape}, "
                f"found {array.dtype} {array.shape}"
            )
        arrays.append(array)
    if verify and _content_hash(folder) != manifest["content_hash"]:
        raise DatasetError(f"{folder}: content hash differs from manifest.json (cache corrupted)")
    info = manifest["info"]
    info = DatasetInfo(
        name=info["name"],
        class_names=tuple(info["class_names"]),
        palette=tuple(tuple(c) for c in info["palette"]),
        depth_range=tuple(info["depth_range"]),
        depth_units=info["depth_units"],
    )
    rgb, depth, label = arrays  # _ARRAYS order
    return ArrayDataset(info, rgb, depth, label, paired=bool(manifest["paired"]))


def cached_dataset(
    source: Source,
    size: tuple[int, int],
    cache_dir: str | os.PathLike[str],
    split: str,
    *,
    progress: bool = True,
    workers: int = 1,
) -> ArrayDataset:
    """The cache of ``source`` in ``cache_dir``, built first if missing or made for other
    inputs."""
    folder = cache_folder(cache_dir, source.info.name, split)
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("key") != cache_key(source, size):
        build_cache(source, size, folder, progress=progress, workers=workers)
    with contextlib.suppress(DatasetError):
        return load_cache(folder)
    # The folder was complete but its arrays are damaged: build it again once.
    build_cache(source, size, folder, progress=progress, workers=workers)
    return load_cache(folder)
