# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Unpaired RGB images from a folder tree (the paper's extra training data).

Any folder works (e.g. frames of the raw NYUDv2 dataset, Cityscapes' trainextra): it is
searched recursively for common image formats, in a stable (sorted) order. A file that cannot
be decoded raises :class:`DatasetError` naming it; ``check()`` lists every bad file at once.
Try it with ``mmed-data inspect nyudv2 --root labeled.mat --split extra --option extra_dir=DIR``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmed_core.data.base import DatasetInfo
from mmed_core.errors import DatasetError
from mmed_core.imagefile import read_image

__all__ = ["IMAGE_EXTENSIONS", "list_images", "read_rgb", "ImageFolderSource"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def list_images(root: str | os.PathLike[str], pattern: str = "*") -> list[Path]:
    """Every image file under ``root`` (recursively) whose name matches ``pattern``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"{root}: expected a folder of images, found "
            f"{'a file' if root.exists() else 'nothing'}"
        )
    files = sorted(
        p for p in root.rglob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise DatasetError(
            f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) found in this folder "
            f"or below it" + (f" matching {pattern!r}" if pattern != "*" else "")
        )
    return files


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file into (H, W, 3) uint8 RGB; grey and 16-bit images are converted.
    A missing, truncated or corrupt file is a DatasetError naming it (nothing on stderr)."""
    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR, "RGB"), cv2.COLOR_BGR2RGB)


class ImageFolderSource:
    """RGB-only source over a folder tree: ``paired`` is False, depth and label are None."""

    paired = False

    def __init__(
        self, root: str | os.PathLike[str], info: DatasetInfo, pattern: str = "*"
    ) -> None:
        self.root = Path(root)
        self.files = list_images(self.root, pattern)
        self.info = info

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> tuple[np.ndarray, None, None]:
        return read_rgb(self.files[index]), None, None

    def check(self) -> None:
        """Decode every file; raise one error listing all that fail."""
        bad = []
        for path in self.files:
            try:
                read_rgb(path)
            except DatasetError:
                bad.append(str(path))
        if bad:
            raise DatasetError(
                f"{self.root}: {len(bad)} corrupt image(s): "
                + ", ".join(bad[:20])
                + (" ..." if len(bad) > 20 else "")
            )

    def fingerprint(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for path in self.files:
            stat = path.stat()
            digest.update(
                f"{path.relative_to(self.root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
            )
        return {
            "kind": "folder",
            "root": str(self.root.resolve()),
            "files": len(self.files),
            "listing": digest.hexdigest(),
        }
