# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Image files and encoded frames (mmed_core.imagefile): a truncated or corrupt PNG/JPEG is a
clear error naming the file, and OpenCV's decoders print nothing to stderr (checked at the file
descriptor, where libpng and libjpeg write).

python -m pytest test/test_imagefile.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from mmed_core import imagefile
from mmed_core.errors import DatasetError
from mmed_core.imagefile import decode_quietly, encoded_problem, read_image

RNG = np.random.default_rng(0)


def _encoded(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


RGB = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
DEPTH = RNG.integers(0, 65535, (48, 64), dtype=np.uint16)


@pytest.mark.parametrize(
    "ext, image, flags",
    [
        (".png", RGB, cv2.IMREAD_COLOR),
        (".png", DEPTH, cv2.IMREAD_UNCHANGED),
        (".jpg", RGB, cv2.IMREAD_COLOR),
        (".bmp", RGB, cv2.IMREAD_COLOR),
    ],
)
def test_whole_files_decode_as_imread_does(tmp_path, ext, image, flags):
    path = tmp_path / f"f{ext}"
    path.write_bytes(_encoded(ext, image))
    assert encoded_problem(path.read_bytes()) is None
    np.testing.assert_array_equal(read_image(path, flags, "test"), cv2.imread(str(path), flags))


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("ext, image", [(".png", RGB), (".png", DEPTH), (".jpg", RGB)])
def test_a_truncated_file_is_named_and_nothing_reaches_stderr(tmp_path, capfd, keep, ext, image):
    data = _encoded(ext, image)
    path = tmp_path / f"frame{ext}"
    path.write_bytes(data[: max(9, int(len(data) * keep))])
    capfd.readouterr()
    with pytest.raises(DatasetError, match=r"frame\.(png|jpg): cannot decode this label image"):
        read_image(path, cv2.IMREAD_UNCHANGED, "label")
    with pytest.raises(DatasetError) as exc:
        read_image(path, cv2.IMREAD_UNCHANGED, "label")
    assert "cut short" in str(exc.value) and ext[1:].upper().replace("JPG", "JPEG") in str(
        exc.value
    )
    err = capfd.readouterr().err
    assert err == "", err  # no "libpng error: Read Error", no "Premature end of JPEG file"


def test_a_corrupt_png_chunk_fails_its_crc(tmp_path, capfd):
    data = bytearray(_encoded(".png", RGB))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"bad\.png: .*IDAT chunk at byte \d+ fails its CRC"):
        read_image(path, cv2.IMREAD_COLOR, "RGB")
    assert capfd.readouterr().err == ""


def test_empty_missing_and_unknown_files(tmp_path, capfd):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty.png: .*got 0 bytes"):
        read_image(tmp_path / "empty.png", cv2.IMREAD_COLOR, "RGB")
    with pytest.raises(DatasetError, match="nope.png: expected a RGB image file, found nothing"):
        read_image(tmp_path / "nope.png", cv2.IMREAD_COLOR, "RGB")
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match="text.png: .*6e6f7420616e2069.*does not decode"):
        read_image(tmp_path / "text.png", cv2.IMREAD_COLOR, "RGB")
    assert capfd.readouterr().err == ""


def test_a_jpeg_thumbnail_marker_does_not_hide_a_truncation():
    """An application segment may hold a whole embedded JPEG (an EXIF thumbnail, with its own
    end marker): only an end marker after the image data counts."""
    data = _encoded(".jpg", RGB)
    payload = b"thumb\xff\xd8\xff\xd9"
    segment = b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload
    whole = data[:2] + segment + data[2:]
    assert encoded_problem(whole) is None
    assert decode_quietly(whole, cv2.IMREAD_COLOR).shape == RGB.shape
    assert "cut short" in encoded_problem(whole[: len(whole) - 40])


def test_ancillary_png_chunks_are_not_crc_checked():
    """libpng skips an ancillary chunk with a bad CRC, so it is not an error here either."""
    data = _encoded(".png", RGB)
    text = b"tEXt" + b"Comment\x00hi"
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", 0)  # wrong CRC
    good = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    assert encoded_problem(data[:33] + good + data[33:]) is None
    assert encoded_problem(data[:33] + chunk + data[33:]) is None


def test_opencv_log_level_is_restored_and_a_cv2_without_the_api_works(monkeypatch):
    logging = cv2.utils.logging
    before = logging.getLogLevel()
    good = _encoded(".png", RGB)
    assert decode_quietly(good, cv2.IMREAD_COLOR) is not None
    assert logging.getLogLevel() == before
    with imagefile._quiet_opencv():
        assert logging.getLogLevel() <= logging.LOG_LEVEL_ERROR
        with imagefile._quiet_opencv():  # nested (another thread): restored by the last out
            pass
        assert logging.getLogLevel() <= logging.LOG_LEVEL_ERROR
    assert logging.getLogLevel() == before
    monkeypatch.setattr(imagefile.cv2, "utils", SimpleNamespace())  # an older cv2
    assert decode_quietly(good, cv2.IMREAD_COLOR).shape == RGB.shape


def test_datasets_and_compressed_frames_use_it(tmp_path, capfd):
    from test_data_labelled import _write

    from mmed_core.data import build_source
    from mmed_ros.conversions import CompressedImageError, rgb_from_msg

    root = _write(tmp_path / "real", n=2)
    label = root / "label40" / "0002.png"
    label.write_bytes(label.read_bytes()[:-30])
    src = build_source("labelled", "test", root=root)
    src.load(0)
    with pytest.raises(DatasetError, match=r"label40/0002\.png: cannot decode this label image"):
        src.load(1)
    rgb = root / "rgb" / "0001.png"
    rgb.write_bytes(rgb.read_bytes()[:100])
    with pytest.raises(DatasetError, match=r"rgb/0001\.png: cannot decode this RGB image"):
        src.load(0)
    cut = _encoded(".png", RGB)[:500]
    with pytest.raises(CompressedImageError, match="do not decode: .*PNG cut short"):
        rgb_from_msg(SimpleNamespace(format="rgb8; png compressed bgr8", data=cut))
    assert capfd.readouterr().err == ""


def test_imagefile_is_a_base_module() -> None:
    """It imports no layer of mmed_core, so mmed_ros.conversions can use it cheaply."""
    text = Path(imagefile.__file__).read_text()
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert all("mmed_core." not in line or "mmed_core.errors" in line for line in imports)


def test_depth_encodings() -> None:
    """Metres -> 16-bit mm (mmed-predict's files, mmed-bag's 16UC1 depth): 0 = no measurement,
    and a measured depth never becomes 0."""
    from mmed_core.imagefile import encode_depth

    d = np.array([[0.5, 1.2344, np.nan], [-1.0, 100.0, 0.0], [0.0002, np.inf, 2.0]], np.float32)
    assert encode_depth(d, "m").tolist() == [[500, 1234, 0], [0, 65535, 0], [1, 0, 2000]]
    # Cityscapes: disparity * 256 + 1
    assert encode_depth(np.array([[1.0, np.nan]]), "disparity").tolist() == [[257, 0]]
