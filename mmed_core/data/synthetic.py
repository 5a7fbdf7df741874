# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synthetic RGB-D-semantic indoor frames: the embedded default dataset of mmed.

Rooms come from :mod:`mmed_core.data.scenes` and are ray cast by :mod:`mmed_core.data.raycast`,
so depth (z-depth in metres, like NYUDv2) and labels (NYU12_CLASSES ids, 255 = other) are exact.
The camera is NYUDv2's Kinect held by a person (height, pitch, roll), and its field of view is
kept whatever the frame size: a 96x96 frame looks like a 640x480 NYUDv2 frame resized to 96x96.
The RGB goes through a camera model (exposure, white balance, gamma, vignetting, blur, noise,
JPEG); :func:`kinect_depth` makes a sensor-like depth with holes and noise. Realism extras, off by
default (supersampling, auto exposure, cast shadows, grime, highlights), bring the look closer to
a photo at a rendering cost (docs/SIM2REAL.md), and ``room.rounded`` draws round things round.
Every knob is a field of :class:`SyntheticConfig` (rooms:
:class:`mmed_core.data.scenes.RoomConfig`).
Frame ``i`` of seed ``s`` depends only on ``(s, i)``, so any frame can be rendered alone and
every run gives the same bytes. Write a dataset with ``mmed-data synth --out DIR``; time it with
``python benchmarks/bench_synth.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace

import cv2
import numpy as np

from mmed_core.data.base import DatasetInfo
from mmed_core.data.classes import NYU12_CLASSES, NYU12_PALETTE
from mmed_core.data.raycast import Lighting, Scene, cast, shade
from mmed_core.data.scenes import RoomConfig, random_room
from mmed_core.errors import ConfigError

__all__ = [
    "Frame",
    "SyntheticConfig",
    "generate_frames",
    "generate_unpaired",
    "render_frame",
    "intrinsics",
    "kinect_depth",
    "photometric",
    "DEPTH_RANGE",
    "RoomConfig",
    "config_from_dict",
    "describe_config",
]

DEPTH_RANGE = (0.5, 10.0)
# NYUDv2's Kinect focal lengths at 640x480 (≈ 63° x 50° field of view).
_NYU_FOCAL_640 = 518.86
_NYU_FOCAL_480 = 519.47
_UNPAIRED_STREAM = 0x5EED


@dataclass
class Frame:
    """One rendered view; ``pose`` maps camera (OpenCV optical: x right, y down, z ahead) to world
    (z up)."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, 0 where outside DEPTH_RANGE (as a depth sensor)
    label: np.ndarray  # (H, W) uint8, NYU12_CLASSES ids, 255 = unknown
    K: np.ndarray  # (3, 3) float64
    pose: np.ndarray  # (4, 4) float64 camera-to-world


@dataclass(frozen=True)
class SyntheticConfig:
    """Every knob of the synthetic-room generator (camera, photometry, clutter, depth noise)."""

    height: int = 96
    width: int = 96
    seed: int = 0
    sequence: bool = False  # one room, smooth camera path (for rosbags) instead of random views
    frames_per_loop: int = 240  # sequence: frames for one lap around the room
    # Camera pose of random views: hand-held height (m), pitch and roll (degrees).
    camera_height: tuple[float, float] = (1.0, 1.65)
    pitch_deg: tuple[float, float] = (-12.0, 9.0)  # mean, std (negative: looking down)
    roll_deg: float = 3.0  # std
    look_at_objects: float = 0.6  # chance a view is aimed at an object, not a random point
    kinect_fov: bool = True  # NYUDv2's field of view in both axes (False: square pixels)
    # Photometric camera model (all applied to RGB only).
    exposure: tuple[float, float] = (0.55, 1.3)  # gain range
    white_balance: float = 0.12  # per-channel gain spread
    gamma: tuple[float, float] = (0.8, 1.25)
    vignetting: tuple[float, float] = (0.0, 0.45)  # darkening at the corners
    blur: tuple[float, float] = (0.0, 0.6)  # Gaussian sigma in pixels at 96 px width
    noise_std: float | tuple[float, float] = (1.0, 6.0)  # sensor noise, 0..255 units
    jpeg: tuple[int, int] = (35, 95)  # JPEG quality range
    jpeg_prob: float = 0.6  # chance a frame is JPEG-compressed
    # Realism extras (all off by default: frames stay those of generator version 3). A range
    # (lo, hi) is drawn per frame; (0, 0) is off.
    supersample: int = 1  # rays per pixel side: the frame is rendered and put through the camera
    # model at s times the size, then averaged down (as a photo resized to the input size)
    auto_exposure: tuple[float, float] = (0.0, 0.0)  # target mean brightness 0..1 (replaces
    # the exposure range, as a camera's auto exposure does; white balance still applies)
    shadows: tuple[float, float] = (0.0, 0.0)  # share of a light an occluder takes away
    grime: tuple[float, float] = (0.0, 0.0)  # multi-scale albedo variation (stains, wear)
    specular: tuple[float, float] = (0.0, 0.0)  # strength of glossy highlights
    room: RoomConfig = field(default_factory=RoomConfig)

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ConfigError(
                f"synthetic frame size must be at least 8x8, got {self.height}x{self.width}"
            )
        if self.frames_per_loop < 2:
            raise ConfigError(f"frames_per_loop must be >= 2, got {self.frames_per_loop}")
        if not isinstance(self.supersample, int) or not 1 <= self.supersample <= 4:
            raise ConfigError(f"supersample must be an integer 1..4, got {self.supersample!r}")
        for name in ("printed", "rounded"):
            chance = getattr(self.room, name)
            if not isinstance(chance, (int, float)) or not 0 <= chance <= 1:
                raise ConfigError(f"room.{name} must be a chance 0..1, got {chance!r}")
        for name in ("auto_exposure", "shadows", "grime", "specular"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or not 0 <= lo_hi[0] <= lo_hi[1] <= 1:
                raise ConfigError(
                    f"synthetic generator option {name} must be a range [lo, hi] with "
                    f"0 <= lo <= hi <= 1, got {list(lo_hi)}"
                )


def describe_config(config: SyntheticConfig) -> str:
    """The generator's knobs as ``name=value`` text (printed by ``mmed-data inspect``)."""
    values = asdict(config)
    room = values.pop("room")
    return (
        " ".join(f"{k}={v}" for k, v in values.items())
        + " room: "
        + " ".join(f"{k}={v}" for k, v in room.items())
    )


def intrinsics(height: int, width: int, kinect_fov: bool = False) -> np.ndarray:
    """Pinhole K with NYUDv2's field of view across the width and square pixels, or with
    ``kinect_fov`` NYUDv2's field of view in both axes (a 640x480 frame squeezed to the size)."""
    f = _NYU_FOCAL_640 * width / 640.0
    fy = _NYU_FOCAL_480 * height / 480.0 if kinect_fov else f
    return np.array([[f, 0, (width - 1) / 2], [0, fy, (height - 1) / 2], [0, 0, 1]], np.float64)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.column_stack([right, down, forward])


def _pose(position: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = _rotation(yaw, pitch, roll)
    pose[:3, 3] = position
    return pose


def _rays(K: np.ndarray, pose: np.ndarray, height: int, width: int) -> np.ndarray:
    v, u = np.mgrid[0:height, 0:width]
    cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], -1)
    return (cam.reshape(-1, 3) @ pose[:3, :3].T).astype(np.float32)


def _min_depth(scene: Scene, pose: np.ndarray, K: np.ndarray, height: int, width: int) -> float:
    """Nearest z-depth seen on a coarse 12x12 grid of rays: rejects views glued to a wall."""
    small = K.copy()
    small[:2] *= 12.0 / np.array([[width], [height]])
    t, _, _ = cast(scene, pose[:3, 3].astype(np.float32), _rays(small, pose, 12, 12))
    return float(t.min())


def _visible(scene: Scene, pose: np.ndarray, K: np.ndarray, height: int, width: int) -> Scene:
    """The scene without the boxes wholly behind the camera or outside the image (half the
    cost)."""
    if not len(scene.lo):
        return scene
    corners = np.stack(
        [np.where(np.array([i & 1, i & 2, i & 4], bool), scene.hi, scene.lo) for i in range(8)], 1
    )  # (B, 8, 3)
    cam = (corners - pose[:3, 3]) @ pose[:3, :3]
    z = cam[..., 2]
    ahead = z > 1e-3
    u = np.where(ahead, cam[..., 0] / np.where(ahead, z, 1) * K[0, 0] + K[0, 2], 0)
    v = np.where(ahead, cam[..., 1] / np.where(ahead, z, 1) * K[1, 1] + K[1, 2], 0)
    # Only boxes entirely ahead can be judged by their projection; the others are kept.
    all_ahead = ahead.all(1)
    outside = (u < -1).all(1) | (u > width).all(1) | (v < -1).all(1) | (v > height).all(1)
    keep = ahead.any(1) & ~(all_ahead & outside)
    return replace(
        scene,
        lo=scene.lo[keep],
        hi=scene.hi[keep],
        label=scene.label[keep],
        material=scene.material[keep],
        color=scene.color[keep],
        param=scene.param[keep],
        shape=None if scene.shape is None else scene.shape[keep],
    )


_TILE = 32  # pixels: each tile of the image is cast against the boxes that can appear in it


def _cast_tiled(
    scene: Scene, pose: np.ndarray, K: np.ndarray, height: int, width: int, dirs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cast` per image tile, each against only the boxes whose projection can reach the
    tile (boxes partly behind the camera go to every tile): the same hits, several times
    faster on cluttered rooms."""
    origin = pose[:3, 3].astype(np.float32)
    if len(scene.lo) < 8 or height * width <= _TILE * _TILE:
        return cast(scene, origin, dirs)
    corners = np.stack(
        [np.where(np.array([i & 1, i & 2, i & 4], bool), scene.hi, scene.lo) for i in range(8)], 1
    )
    cam = (corners - pose[:3, 3]) @ pose[:3, :3]
    z = cam[..., 2]
    ahead = (z > 1e-3).all(1)
    zs = np.where(z > 1e-3, z, 1.0)
    u = cam[..., 0] / zs * K[0, 0] + K[0, 2]
    v = cam[..., 1] / zs * K[1, 1] + K[1, 2]
    u0, u1 = np.where(ahead, u.min(1), -np.inf), np.where(ahead, u.max(1), np.inf)
    v0, v1 = np.where(ahead, v.min(1), -np.inf), np.where(ahead, v.max(1), np.inf)
    t = np.empty(height * width, np.float32)
    idx = np.empty(height * width, np.int64)
    axis = np.empty(height * width, np.int64)
    grid = np.arange(height * width).reshape(height, width)
    for r0 in range(0, height, _TILE):
        for c0 in range(0, width, _TILE):
            r1, c1 = min(r0 + _TILE, height), min(c0 + _TILE, width)
            keep = np.flatnonzero((u1 >= c0 - 1) & (u0 <= c1) & (v1 >= r0 - 1) & (v0 <= r1))
            shape = None if scene.shape is None else scene.shape[keep]
            sub = replace(scene, lo=scene.lo[keep], hi=scene.hi[keep], shape=shape)
            pix = grid[r0:r1, c0:c1].ravel()
            tt, ii, aa = cast(sub, origin, dirs[pix])
            t[pix], axis[pix] = tt, aa
            idx[pix] = np.where(ii >= 0, keep[np.maximum(ii, 0)], -1) if len(keep) else -1
    return t, idx, axis


def _random_view(
    scene: Scene,
    rng: np.random.Generator,
    K: np.ndarray,
    h: int,
    w: int,
    config: SyntheticConfig | None = None,
) -> np.ndarray:
    cfg = config or SyntheticConfig()
    size = scene.size
    pose = None
    for _ in range(12):
        # Stand near the edge of the room and look across it, as people photograph rooms.
        pos = np.array(
            [
                rng.uniform(0.5, size[0] - 0.5),
                rng.uniform(0.5, size[1] - 0.5),
                rng.uniform(*cfg.camera_height),
            ]
        )
        target = np.array([rng.uniform(0.3, size[0] - 0.3), rng.uniform(0.3, size[1] - 0.3)])
        if len(scene.lo) and rng.random() < cfg.look_at_objects:
            k = int(rng.integers(len(scene.lo)))
            target = (scene.lo[k, :2] + scene.hi[k, :2]) / 2
        if np.linalg.norm(target - pos[:2]) < 1.5:
            continue
        yaw = float(np.arctan2(target[1] - pos[1], target[0] - pos[0]))
        pitch = float(
            np.clip(np.radians(rng.normal(cfg.pitch_deg[0], cfg.pitch_deg[1])), -0.75, 0.35)
        )
        pose = _pose(pos, yaw, pitch, float(np.radians(rng.normal(0, cfg.roll_deg))))
        if _inside_box(scene, pos) or _min_depth(scene, pose, K, h, w) < 0.6:
            continue
        return pose
    return pose if pose is not None else _pose(size / 2, 0.0, 0.0, 0.0)


def _inside_box(scene: Scene, p: np.ndarray) -> bool:
    return bool(np.any(np.all((scene.lo - 0.1 <= p) & (p <= scene.hi + 0.1), axis=1)))


def _sequence_view(scene: Scene, phase: float, wobble: np.ndarray) -> np.ndarray:
    """Camera on an ellipse around the room centre, looking inwards, with slow smooth wobble."""
    size = scene.size
    ax, ay = max(0.2, size[0] / 2 - 1.4), max(0.2, size[1] / 2 - 1.4)
    pos = np.array(
        [
            size[0] / 2 + ax * np.cos(phase),
            size[1] / 2 + ay * np.sin(phase),
            1.4 + 0.1 * np.sin(2 * phase + wobble[0]),
        ]
    )
    yaw = phase + np.pi + 0.5 * np.sin(1.5 * phase + wobble[1])
    pitch = -0.15 + 0.1 * np.sin(phase + wobble[2])
    return _pose(pos, yaw, pitch, 0.02 * np.sin(3 * phase + wobble[3]))


def photometric(
    colour: np.ndarray,
    rng: np.random.Generator,
    config: SyntheticConfig,
    gain: np.ndarray | None = None,
) -> np.ndarray:
    """Linear colour (H, W, 3) in 0..~1 -> uint8 RGB through a random camera: exposure and white
    balance (``gain`` fixes both), gamma, vignetting, blur, noise and JPEG."""
    h, w = colour.shape[:2]
    if gain is None:
        exposure = rng.uniform(*config.exposure)
        balance = rng.uniform(1 - config.white_balance, 1 + config.white_balance, 3)
        if config.auto_exposure[1] > 0:
            target = rng.uniform(*config.auto_exposure)
            exposure = float(np.clip(target / max(float(colour.mean()), 1e-3), 0.2, 6.0))
        gain = exposure * balance
    img = np.clip(colour * gain.astype(np.float32), 0, None)
    img = np.minimum(img, 1.0) ** np.float32(1.0 / rng.uniform(*config.gamma))
    strength = rng.uniform(*config.vignetting)
    if strength > 0:
        v, u = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((u - (w - 1) / 2) / (w / 2)) ** 2 + ((v - (h - 1) / 2) / (h / 2)) ** 2
        img = img * (1 - strength * r2 / 2)[..., None]
    img = img * 255.0
    sigma = rng.uniform(*config.blur) * w / 96.0
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    std = config.noise_std
    std = rng.uniform(*std) if isinstance(std, tuple) else float(std)
    # Shot noise grows with brightness, read noise does not.
    noise = rng.standard_normal(img.shape, np.float32)
    img = img + noise * std * np.sqrt(0.3 + img / 255.0)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < config.jpeg_prob:
        quality = int(rng.integers(config.jpeg[0], config.jpeg[1] + 1))
        ok, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return out


def kinect_depth(
    depth: np.ndarray, rgb: np.ndarray, rng: np.random.Generator, max_range: float = 4.5
) -> np.ndarray:
    """A Kinect-like measurement of exact ``depth`` (m, 0 = none): quantisation noise growing
    with distance, holes at depth edges, on dark surfaces and beyond ``max_range`` (m). For
    depth *inputs*; ground truth stays exact."""
    d = depth.astype(np.float32).copy()
    sigma = 0.0012 + 0.0019 * np.square(np.maximum(d - 0.4, 0))  # Nguyen et al. 2012
    d = d + sigma * rng.standard_normal(d.shape, np.float32)
    step = 2.85e-3 * np.square(d)  # disparity quantisation: steps grow with z^2
    d = np.round(d / np.maximum(step, 1e-4)) * step
    holes = depth <= 0
    gy, gx = np.gradient(depth)
    edge = np.hypot(gx, gy) > 0.08 * np.maximum(depth, 0.5)
    edge = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)).astype(bool)
    holes |= edge & (rng.random(d.shape) < 0.7)
    holes |= (rgb.mean(2) < 25) & (rng.random(d.shape) < 0.5)
    far = depth > max_range
    holes |= far & (rng.random(d.shape) < np.clip((depth - max_range) / 2, 0.2, 1))
    d[holes] = 0
    return d


def render(
    scene: Scene,
    pose: np.ndarray,
    K: np.ndarray,
    height: int,
    width: int,
    rng: np.random.Generator,
    noise_std: float | tuple[float, float] | None = None,
    gain: np.ndarray | None = None,
    config: SyntheticConfig | None = None,
) -> Frame:
    """Ray cast ``scene`` from ``pose``; the camera model's random draws come from ``rng``."""
    cfg = config or SyntheticConfig()
    if noise_std is not None:
        cfg = replace(cfg, noise_std=noise_std)
    # Supersampling: s x s rays per pixel on the finer grid whose pixel centres average to the
    # coarse ones; the RGB is averaged, depth and labels are one ray's.
    ss = cfg.supersample
    hs, ws = height * ss, width * ss
    reps = None
    if ss > 1:  # each pixel's rays share the shadow ray of its middle one
        rows, cols = np.mgrid[0:hs, 0:ws]
        reps = ((rows - rows % ss + ss // 2) * ws + cols - cols % ss + ss // 2).ravel()
    lighting = Lighting(
        **{k: _draw(rng, getattr(cfg, k)) for k in ("shadows", "grime", "specular")},
        casters=scene,
        shadow_rays=reps,
    )
    Ks = K.copy()
    Ks[:2, :2] *= ss
    Ks[:2, 2] = Ks[:2, 2] * ss + (ss - 1) / 2
    origin = pose[:3, 3].astype(np.float32)
    dirs = _rays(Ks, pose, hs, ws)
    visible = _visible(scene, pose, Ks, hs, ws)
    t, idx, axis = _cast_tiled(visible, pose, Ks, hs, ws, dirs)
    colour, label = shade(visible, origin, dirs, t, idx, axis, lighting)
    # The camera model acts at the sensor's resolution, then the frame is averaged down (as a
    # 640x480 photo resized to the network's input): noise and JPEG blocks shrink with it.
    rgb = photometric(colour.reshape(hs, ws, 3), rng, cfg, gain)
    if ss > 1:
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    depth = t.astype(np.float32).reshape(height, ss, width, ss)[:, ss // 2, :, ss // 2]
    depth[(depth < DEPTH_RANGE[0]) | (depth > DEPTH_RANGE[1])] = 0.0
    return Frame(
        rgb=rgb,
        depth=np.ascontiguousarray(depth),
        label=np.ascontiguousarray(label.reshape(height, ss, width, ss)[:, ss // 2, :, ss // 2]),
        K=K.copy(),
        pose=pose,
    )


def _draw(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """A value of the range ``lo_hi``; an off range (hi = 0) draws nothing, so frames of a
    config without it stay bit-identical."""
    return float(rng.uniform(*lo_hi)) if lo_hi[1] > 0 else 0.0


def render_frame(index: int, config: SyntheticConfig) -> Frame:
    """Frame ``index`` of the stream ``config`` describes, rendered on its own."""
    K = intrinsics(config.height, config.width, config.kinect_fov)
    if config.sequence:
        room_rng = np.random.default_rng([config.seed, 0xA11])
        scene = random_room(room_rng, min_size=4.5, config=config.room)
        wobble = room_rng.uniform(0, 2 * np.pi, 4)
        phase = room_rng.uniform(0, 2 * np.pi) + 2 * np.pi * index / config.frames_per_loop
        # One room keeps one camera (exposure, blur, JPEG...), so a sequence does not flicker;
        # only the noise changes.
        gain = room_rng.uniform(0.85, 1.2) * room_rng.uniform(0.92, 1.08, 3)
        steady = replace(
            config,
            gamma=(1.0, 1.0),
            vignetting=(0.15, 0.15),
            blur=(0.0, 0.0),
            jpeg_prob=0.0,
            noise_std=2.0,
        )
        return render(
            scene,
            _sequence_view(scene, phase, wobble),
            K,
            config.height,
            config.width,
            np.random.default_rng([config.seed, 0xA11, index]),
            gain=gain,
            config=steady,
        )
    rng = np.random.default_rng([config.seed, index])
    scene = random_room(rng, config=config.room)
    pose = _random_view(scene, rng, K, config.height, config.width, config)
    return render(scene, pose, K, config.height, config.width, rng, config=config)


def generate_frames(
    n: int,
    *,
    height: int = 96,
    width: int = 96,
    seed: int = 0,
    sequence: bool = False,
    config: SyntheticConfig | None = None,
) -> Iterator[Frame]:
    """``n`` frames: independent random rooms/views, or (``sequence``) one room along a smooth
    path.

    ``config`` overrides the other keyword arguments when given.
    """
    if n < 0:
        raise ConfigError(f"number of synthetic frames must be >= 0, got {n}")
    cfg = config or SyntheticConfig(height=height, width=width, seed=seed, sequence=sequence)
    for i in range(n):
        yield render_frame(i, cfg)


def generate_unpaired(
    n: int, *, height: int = 96, width: int = 96, seed: int = 0
) -> Iterator[np.ndarray]:
    """``n`` RGB images (H, W, 3) uint8 of other rooms than any paired stream of the same seed."""
    cfg = SyntheticConfig(
        height=height,
        width=width,
        seed=int(np.random.SeedSequence([seed, _UNPAIRED_STREAM]).generate_state(1)[0]),
    )
    for frame in generate_frames(n, config=cfg):
        yield frame.rgb


# Bump when the renderer's output changes, so caches of older frames are rebuilt.
GENERATOR_VERSION = 3
_SPLIT_STREAM = {"train": 1, "val": 2, "test": 3, "extra": 4}
SPLIT_SIZES = {"train": 600, "val": 100, "test": 100, "extra": 600}


def split_seed(seed: int, split: str) -> int:
    """The seed of one split: different splits never share a room."""
    return int(np.random.SeedSequence([seed, _SPLIT_STREAM[split]]).generate_state(1)[0])


class SyntheticSource:
    """One split of the synthetic dataset, rendered directly at the training size."""

    def __init__(
        self,
        split: str,
        size: tuple[int, int],
        n: int,
        seed: int = 0,
        generator: dict | None = None,
    ) -> None:
        self.split, self.n, self.seed = split, n, seed
        self.paired = split != "extra"
        self.generator = dict(generator or {})
        self.config = config_from_dict(
            self.generator, height=size[0], width=size[1], seed=split_seed(seed, split)
        )
        self.info = DatasetInfo(
            name="synthetic",
            class_names=NYU12_CLASSES,
            palette=NYU12_PALETTE,
            depth_range=DEPTH_RANGE,
            depth_units="m",
        )

    def __len__(self) -> int:
        return self.n

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        frame = render_frame(index, self.config)
        return (frame.rgb, frame.depth, frame.label) if self.paired else (frame.rgb, None, None)

    def fingerprint(self) -> dict:
        return {
            "generator": "mmed-synthetic",
            "version": GENERATOR_VERSION,
            "split": self.split,
            "n": self.n,
            "seed": self.seed,
            "size": [self.config.height, self.config.width],
            "generator_options": self.generator,
        }


def config_from_dict(values: dict, **fixed) -> SyntheticConfig:
    """A :class:`SyntheticConfig` from ``{field: value}`` (``room``: a dict of
    :class:`RoomConfig` fields), e.g. the ``generator`` option of the synthetic dataset;
    unknown names raise ConfigError listing the valid ones."""
    if not isinstance(values, dict):
        raise ConfigError(f"synthetic generator options must be a mapping, got {values!r}")
    names = {f.name for f in fields(SyntheticConfig)} - {"height", "width", "seed"}
    room_names = {f.name for f in fields(RoomConfig)}
    unknown = sorted(set(values) - names)
    room = values.get("room") or {}
    if not isinstance(room, dict):
        raise ConfigError(f"synthetic generator option room must be a mapping, got {room!r}")
    unknown += [f"room.{k}" for k in sorted(set(room) - room_names)]
    if unknown:
        raise ConfigError(
            f"unknown synthetic generator option(s) {unknown}; valid: "
            f"{', '.join(sorted(names))}; room.{{{', '.join(sorted(room_names))}}}"
        )

    def _value(v):
        return tuple(v) if isinstance(v, list) else v

    kwargs = {k: _value(v) for k, v in values.items() if k != "room"}
    try:
        return SyntheticConfig(
            **kwargs, **fixed, room=RoomConfig(**{k: _value(v) for k, v in room.items()})
        )
    except TypeError as exc:
        raise ConfigError(f"synthetic generator options {values}: {exc}") from exc
