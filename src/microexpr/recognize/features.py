"""Onset-to-apex optical flow features on aligned face crops: horizontal u, vertical v and optical strain.

Both frames are warped with the same 2D similarity (the stable landmarks of the onset face onto the template
of :mod:`microexpr.measure.motion`), so head translation, scale and roll between the recording and the
template are gone; the remaining global motion between onset and apex is removed by subtracting the median
flow of the nose region. Flow is in crop pixels of the CROP_PX crop, scaled with the map to ``size``.
"""

from __future__ import annotations

import cv2
import numpy as np

from microexpr.facs import LM
from microexpr.measure.motion import CROP_PX, CROP_UNIT_PX, face_crop, to_crop

CHANNELS: tuple[str, ...] = ("u", "v", "strain")
DEFAULT_SIZE = 28
_FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
    149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
_NOSE = (1, 2, 4, 5, 6, 19, 94, 168, 195, 197)


def _dis() -> cv2.DISOpticalFlow:
    d = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    d.setUseSpatialPropagation(True)
    return d


def _grey(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 3:
        a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise ValueError(f"image must be (H, W) grey or (H, W, 3) RGB, but got shape {a.shape}")
    return np.ascontiguousarray(a, np.uint8)


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Optical strain magnitude sqrt(u_x^2 + v_y^2 + 0.5 (u_y + v_x)^2) of a flow field (same shape)."""
    uy, ux = np.gradient(u.astype(np.float64))
    vy, vx = np.gradient(v.astype(np.float64))
    return np.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2).astype(np.float32)


def face_region_mask(landmarks_crop: np.ndarray | None, *, mask_eyes: bool = True) -> np.ndarray:
    """(CROP_PX, CROP_PX) float32 mask: 1 inside the face oval, 0 outside and (optionally) on the eyes.

    Without landmarks the mask is all ones (pre-cropped datasets).
    """
    if landmarks_crop is None:
        return np.ones((CROP_PX, CROP_PX), np.float32)
    m = np.zeros((CROP_PX, CROP_PX), np.uint8)
    pts = np.round(np.asarray(landmarks_crop)[list(_FACE_OVAL), :2]).astype(np.int32)
    cv2.fillPoly(m, [pts], 1)
    if mask_eyes:
        for idx in (LM.EYE_UPPER_R_ALL + LM.EYE_LOWER_R_ALL, LM.EYE_UPPER_L_ALL + LM.EYE_LOWER_L_ALL):
            e = np.asarray(landmarks_crop)[list(idx), :2]
            c = e.mean(0)
            ax = (max(2.0, float(np.ptp(e[:, 0])) * 0.55), max(2.0, float(np.ptp(e[:, 1])) * 0.8))
            cv2.ellipse(m, (round(c[0]), round(c[1])), (round(ax[0]), round(ax[1])), 0, 0, 360, 0, -1)
    return m.astype(np.float32)


def crop_flow(
    onset_crop: np.ndarray,
    apex_crop: np.ndarray,
    *,
    size: int = DEFAULT_SIZE,
    landmarks_crop: np.ndarray | None = None,
    mask_eyes: bool = True,
) -> np.ndarray:
    """u, v and strain between two aligned (CROP_PX, CROP_PX) grey crops.

    Args:
        onset_crop: (CROP_PX, CROP_PX) uint8 aligned crop at the onset.
        apex_crop: the same at the apex.
        size: side of the output maps in pixels (28 default, 112 for larger models).
        landmarks_crop: (478, 2+) onset landmarks in crop pixels: defines the face and nose regions; None for
            pre-cropped faces (no mask, global median removed).
        mask_eyes: zero the flow on the eyes (blinks are not expressions).

    Returns:
        (3, size, size) float32: u, v (pixels of the ``size`` map, x right, y down) and strain.
    """
    if not 8 <= int(size) <= 512:
        raise ValueError(f"size must be in [8, 512], but got {size}")
    a, b = _grey(onset_crop), _grey(apex_crop)
    if a.shape != (CROP_PX, CROP_PX) or b.shape != (CROP_PX, CROP_PX):
        a = cv2.resize(a, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
    flow = _dis().calc(a, b, None)
    u, v = flow[..., 0], flow[..., 1]
    if landmarks_crop is not None:
        yy, xx = np.mgrid[0:CROP_PX, 0:CROP_PX]
        nose = np.zeros((CROP_PX, CROP_PX), bool)
        for i in _NOSE:
            p = np.asarray(landmarks_crop)[i]
            nose |= (xx - p[0]) ** 2 + (yy - p[1]) ** 2 <= (0.08 * CROP_UNIT_PX) ** 2
        ref = nose if nose.any() else np.ones_like(nose)
    else:
        ref = np.ones((CROP_PX, CROP_PX), bool)
    u = u - np.median(u[ref])
    v = v - np.median(v[ref])
    mask = face_region_mask(landmarks_crop, mask_eyes=mask_eyes)
    u, v = u * mask, v * mask
    s = optical_strain(u, v) * mask
    scale = int(size) / CROP_PX
    maps = [
        cv2.resize(c.astype(np.float32), (int(size), int(size)), interpolation=cv2.INTER_AREA)
        for c in (u, v, s)
    ]
    maps[0] *= scale
    maps[1] *= scale
    return np.stack(maps).astype(np.float32)


def onset_apex_flow(
    onset: np.ndarray,
    apex: np.ndarray,
    landmarks_px: np.ndarray | None,
    *,
    size: int = DEFAULT_SIZE,
    mask_eyes: bool = True,
) -> np.ndarray:
    """Onset-apex flow of a face in two full frames, aligned with the onset frame's landmarks.

    Args:
        onset: (H, W) grey or (H, W, 3) RGB uint8 onset frame.
        apex: the apex frame, same size.
        landmarks_px: (478, 3) onset landmarks in pixels, or None for a pre-cropped face (whole image used).
        size: side of the output maps.
        mask_eyes: zero the eyes.

    Returns:
        (3, size, size) float32 u, v, strain.
    """
    a, b = _grey(onset), _grey(apex)
    if a.shape != b.shape:
        raise ValueError(f"onset and apex frames differ in size: {a.shape} vs {b.shape}")
    if landmarks_px is None:
        return crop_flow(a, b, size=size, mask_eyes=False)
    ca, m = face_crop(a, landmarks_px)
    cb = cv2.warpAffine(
        b, m.astype(np.float64), (CROP_PX, CROP_PX), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop_flow(ca, cb, size=size, landmarks_crop=to_crop(landmarks_px, m), mask_eyes=mask_eyes)


def flip_flow(x: np.ndarray) -> np.ndarray:
    """Mirror flow maps left-right: the image axis flips and u changes sign (the face's sides swap).

    Args:
        x: (..., 3, H, W) u, v, strain.
    """
    y = np.array(x[..., ::-1], copy=True)
    y[..., 0, :, :] *= -1.0
    return y


def au_landmark_sequence(
    au_r: np.ndarray, landmarks_px: np.ndarray, onset: int, offset: int, *, length: int = 16
) -> np.ndarray:
    """Per-frame AU intensities and landmark displacements from the onset, resampled to ``length`` steps.

    Args:
        au_r: (T, n_au) AU intensities of one face.
        landmarks_px: (T, 478, 2+) landmarks of that face.
        onset: first frame (row) of the event; offset: last.
        length: number of time steps out.

    Returns:
        (length, n_au + 2 * 478) float32: AUs, then x and y displacement from the onset divided by the
        onset's inter-ocular distance.
    """
    onset, offset = int(onset), int(offset)
    if not 0 <= onset <= offset < len(au_r):
        raise ValueError(f"need 0 <= onset <= offset < {len(au_r)}, but got {onset}, {offset}")
    lm = np.asarray(landmarks_px, np.float64)[onset : offset + 1, :, :2]
    iod = float(np.linalg.norm(lm[0, LM.EYE_OUTER_L] - lm[0, LM.EYE_OUTER_R])) or 1.0
    disp = ((lm - lm[0]) / iod).transpose(0, 2, 1).reshape(len(lm), -1)  # all x, then all y
    feats = np.hstack([np.nan_to_num(np.asarray(au_r, np.float64)[onset : offset + 1]), disp])
    idx = np.linspace(0, len(feats) - 1, int(length))
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, len(feats) - 1)
    w = (idx - lo)[:, None]
    return ((1 - w) * feats[lo] + w * feats[hi]).astype(np.float32)
