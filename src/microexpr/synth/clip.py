"""Render clips: per-frame AU curves and head motion for one face, or several faces side by side."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Union

import numpy as np

from microexpr.errors import OptionError
from microexpr.synth.photos import FacePhoto
from microexpr.synth.render import Renderer

# A per-frame quantity: a constant, one value per frame, or a function of the time in seconds.
Track = Union[float, np.ndarray, Callable[[float], float], None]

_CACHE: list[tuple[FacePhoto, Renderer]] = []
_CACHE_SIZE = 4


def renderer_for(photo: FacePhoto | Renderer, *, grid_step_px: int = 8) -> Renderer:
    """A renderer for ``photo``, reusing one made recently for the same photo object (set-up takes ~1 s)."""
    if isinstance(photo, Renderer):
        return photo
    for p, r in _CACHE:
        if p is photo and r.grid_step_px == grid_step_px:
            return r
    r = Renderer(photo, grid_step_px=grid_step_px)
    _CACHE.append((photo, r))
    del _CACHE[:-_CACHE_SIZE]
    return r


def render_clip(
    photo_or_photos: FacePhoto | Renderer | Sequence[FacePhoto | Renderer],
    au_curves: Mapping[str, Track] | Sequence[Mapping[str, Track]],
    *,
    fps: float,
    yaw_deg: Track | list[Track] = None,
    pitch_deg: Track | list[Track] = None,
    roll_deg: Track | list[Track] = None,
    shift_px: object = None,
    visible: object = None,
    noise_std: float = 0.0,
    n_frames: int | None = None,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """Yield the frames of a rendered clip.

    Every per-frame quantity (an AU curve, an angle, a visibility) may be a constant, an array with one value
    per frame, or a function of the time ``t_s = i / fps``. With several photos, the faces are composed side
    by side (left to right, in order) on one canvas, each with its own curves and motion: pass ``au_curves``
    as a list of dicts, and a motion or ``visible`` argument as a list with one entry per photo (any other
    value applies to every photo). MediaPipe's face detector misses faces narrower than about a fifth of
    the frame, so compose narrow panels (``sample_face(name, size=(320, 480))``) for multi-face tests.

    Args:
        photo_or_photos: a FacePhoto (or a Renderer made from one), or a list of them.
        au_curves: AU code -> intensity on the FACS 0-5 scale per frame (see :func:`au_pulse`).
        fps: frame rate in frames/s (times for function-valued quantities; write the clip with the same).
        yaw_deg: head turn in degrees; positive moves the nose toward the viewer's right.
        pitch_deg: head nod in degrees; positive moves the chin down.
        roll_deg: head tilt in degrees; positive turns the face clockwise as the viewer sees it.
        shift_px: (dx, dy) in pixels: a tuple, an (n_frames, 2) array, or a function of t_s.
        visible: bool per frame; where False the face's panel shows the photo blurred beyond recognition
            (a face that leaves and comes back, to test re-identification).
        noise_std: standard deviation of Gaussian sensor noise added to every frame, in grey levels.
        n_frames: number of frames; needed only when no quantity is an array.
        seed: seed of the noise (the same seed gives the same clip).

    Yields:
        (H, W, 3) uint8 RGB frames; W is the sum of the photos' widths, H the largest height.

    Raises:
        OptionError: inconsistent lengths, an unknown AU, or no way to know the number of frames.
    """
    many = isinstance(photo_or_photos, (list, tuple))
    photos = list(photo_or_photos) if many else [photo_or_photos]
    if not photos:
        raise OptionError("render_clip needs at least one photo")
    if not (math.isfinite(fps) and fps > 0):
        raise OptionError(f"fps must be a positive number, but got {fps}")
    if noise_std < 0 or not math.isfinite(noise_std):
        raise OptionError(f"noise_std must be >= 0, but got {noise_std}")
    k = len(photos)
    if many:
        if not isinstance(au_curves, (list, tuple)) or len(au_curves) != k:
            raise OptionError(f"with {k} photos, au_curves must be a list of {k} dicts (one per photo)")
        curves = list(au_curves)
    else:
        if not isinstance(au_curves, Mapping):
            raise OptionError("au_curves must be a dict of AU code -> curve")
        curves = [au_curves]
    renderers = [renderer_for(p) for p in photos]

    def per_photo(value: object) -> list[object]:
        return list(value) if many and isinstance(value, list) and len(value) == k else [value] * k

    motion = {
        name: per_photo(v)
        for name, v in (
            ("yaw", yaw_deg),
            ("pitch", pitch_deg),
            ("roll", roll_deg),
            ("shift", shift_px),
            ("visible", visible),
        )
    }
    n = _frame_count(curves, motion, n_frames)
    t_s = np.arange(n) / float(fps)
    tracks = []
    for j in range(k):
        au = {code: _track(v, n, t_s, f"{code} curve") for code, v in curves[j].items()}
        tracks.append(
            {
                "au": au,
                "yaw": _track(motion["yaw"][j], n, t_s, "yaw_deg"),
                "pitch": _track(motion["pitch"][j], n, t_s, "pitch_deg"),
                "roll": _track(motion["roll"][j], n, t_s, "roll_deg"),
                "shift": _shift_track(motion["shift"][j], n, t_s),
                "visible": _track(motion["visible"][j], n, t_s, "visible", default=1.0),
            }
        )
    widths = [r.width for r in renderers]
    height = max(r.height for r in renderers)
    rng = np.random.default_rng(seed)
    return _frames(renderers, tracks, n, widths, height, rng, float(noise_std))


def _frames(
    renderers: list[Renderer],
    tracks: list[dict],
    n: int,
    widths: list[int],
    height: int,
    rng: np.random.Generator,
    noise_std: float,
) -> Iterator[np.ndarray]:
    for i in range(n):
        panels = []
        for r, tr in zip(renderers, tracks):
            if tr["visible"][i] > 0.5:
                img = r.render(
                    {c: float(v[i]) for c, v in tr["au"].items()},
                    yaw_deg=float(tr["yaw"][i]),
                    pitch_deg=float(tr["pitch"][i]),
                    roll_deg=float(tr["roll"][i]),
                    shift_px=(float(tr["shift"][i, 0]), float(tr["shift"][i, 1])),
                )
            else:
                img = r.hidden()
            if img.shape[0] < height:
                img = np.pad(img, ((0, height - img.shape[0]), (0, 0), (0, 0)), mode="edge")
            panels.append(img)
        frame = panels[0] if len(panels) == 1 else np.concatenate(panels, axis=1)
        if noise_std > 0:
            noisy = frame.astype(np.float32) + rng.standard_normal(frame.shape, dtype=np.float32) * noise_std
            frame = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
        yield frame


def _frame_count(
    curves: list[Mapping[str, object]], motion: dict[str, list[object]], n_frames: int | None
) -> int:
    lengths: set[int] = set()
    for c in curves:
        for v in c.values():
            if isinstance(v, np.ndarray) and v.ndim >= 1:
                lengths.add(len(v))
    for name, values in motion.items():
        for v in values:
            if isinstance(v, np.ndarray) and v.ndim >= 1 and not (name == "shift" and v.shape == (2,)):
                lengths.add(len(v))
    if n_frames is not None:
        lengths.add(int(n_frames))
    if len(lengths) > 1:
        raise OptionError(
            f"per-frame arrays (and n_frames) must all have the same length, but got {sorted(lengths)}"
        )
    if not lengths:
        raise OptionError(
            "cannot tell the number of frames: give an array with one value per frame, or n_frames"
        )
    n = lengths.pop()
    if n < 1:
        raise OptionError(f"a clip needs at least one frame, but got {n}")
    return n


def _track(value: object, n: int, t_s: np.ndarray, name: str, *, default: float = 0.0) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    if callable(value):
        return np.array([float(value(float(t))) for t in t_s])
    arr = np.asarray(value, np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise OptionError(
            f"{name} must be a number, a function of time or an array of shape ({n},), but got {arr.shape}"
        )
    return arr


def _shift_track(value: object, n: int, t_s: np.ndarray) -> np.ndarray:
    if value is None:
        return np.zeros((n, 2))
    if callable(value):
        return np.array([np.asarray(value(float(t)), np.float64).reshape(2) for t in t_s])
    arr = np.asarray(value, np.float64)
    if arr.shape == (2,):
        return np.broadcast_to(arr, (n, 2))
    if arr.shape != (n, 2):
        raise OptionError(
            f"shift_px must be (dx, dy), a function of time or an array of shape ({n}, 2), but got {arr.shape}"
        )
    return arr
