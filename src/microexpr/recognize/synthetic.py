"""Synthetic flow samples rendered from real face photos: micro-expressions with known classes (benchmarks,
tests, and minority-class augmentation with ``microexpr train --synth``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from microexpr.recognize.flowdata import FlowDataset

# AU combinations per MEGC class (intensities drawn per sample); negative is the varied, large class
CLASS_AUS: dict[str, tuple[tuple[str, ...], ...]] = {
    "negative": (
        ("AU04",),
        ("AU04", "AU07"),
        ("AU09",),
        ("AU15", "AU17"),
        ("AU01", "AU04"),
        ("AU14",),
        ("AU10",),
    ),
    "positive": (("AU06", "AU12"), ("AU12",)),
    "surprise": (("AU01", "AU02"), ("AU01", "AU02", "AU05"), ("AU05", "AU26")),
}
FACES: tuple[str, ...] = ("astronaut", "hopper", "astronaut_flipped", "hopper_flipped")


def synth_faces(names: Sequence[str] = FACES, *, iod_px: float = 80.0) -> list[tuple[str, object]]:
    """(name, FacePhoto) of each face; "<name>_flipped" is the photo mirrored (a different face for LOSO,
    landmarks detected again on the mirrored image)."""
    from microexpr.synth.photos import face_photo, sample_face

    out = []
    for n in names:
        base = n.removesuffix("_flipped")
        p = sample_face(base, size=(320, 320), iod_px=iod_px)
        if n.endswith("_flipped"):
            p = face_photo(np.ascontiguousarray(p.image[:, ::-1]))
        out.append((n, p))
    return out


def render_flow_dataset(
    counts: dict[str, int],
    *,
    faces: Sequence[str] = FACES,
    size: int = 28,
    seed: int = 0,
    noise_std: float = 2.0,
    intensity: tuple[float, float] = (0.8, 2.5),
) -> FlowDataset:
    """Render onset (neutral) and apex frames per sample and compute their flow like real data.

    Args:
        counts: samples per class per face, e.g. {"negative": 12, "positive": 4, "surprise": 3}.
        faces: face names (see :data:`FACES`); each face is one subject (group).
        size: side of the flow maps.
        seed: seeds intensities, combinations, head jitter and sensor noise.
        noise_std: Gaussian sensor noise (grey levels) added to both frames.
        intensity: range of AU intensities (FACS 0-5) at the apex.
    """
    from microexpr.recognize.features import onset_apex_flow
    from microexpr.synth.render import Renderer

    rng = np.random.default_rng(seed)
    classes = tuple(c for c in CLASS_AUS if counts.get(c, 0) > 0)
    xs, ys, gs, ids = [], [], [], []
    for name, photo in synth_faces(faces):
        r = Renderer(photo)
        neutral = np.asarray(photo.image, np.float32)
        for ci, cls in enumerate(classes):
            for j in range(int(counts[cls])):
                combo = CLASS_AUS[cls][rng.integers(len(CLASS_AUS[cls]))]
                au = {a: float(rng.uniform(*intensity)) for a in combo}
                shift = (float(rng.normal(0, 0.4)), float(rng.normal(0, 0.4)))
                apex = r.render(au, shift_px=shift, roll_deg=float(rng.normal(0, 0.5))).astype(np.float32)
                on = np.clip(neutral + rng.normal(0, noise_std, neutral.shape), 0, 255).astype(np.uint8)
                ap = np.clip(apex + rng.normal(0, noise_std, apex.shape), 0, 255).astype(np.uint8)
                xs.append(onset_apex_flow(on, ap, photo.landmarks_px, size=size))
                ys.append(ci)
                gs.append(name)
                ids.append(f"{name}/{cls}/{j:03d}")
    return FlowDataset(np.stack(xs), np.array(ys, np.int64), np.array(gs), classes, np.array(ids))
