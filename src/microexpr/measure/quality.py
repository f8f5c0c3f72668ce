"""Per-frame quality measures of a face: sharpness, lighting, head speed, size, and flags from them.

The flags mark frames whose measures should not be trusted for small movements; they never remove rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_PX = 112  # the face crop is resized to this square before sharpness is measured, so faces compare


@dataclass(frozen=True)
class QualityThresholds:
    """Thresholds that turn quality measures into flags."""

    min_sharpness: float = 20.0  # variance of the Laplacian on the 112 px face crop; below: blurred
    max_luminance_jump: float = (
        12.0  # grey levels between consecutive frames; above: flicker or a light change
    )
    min_luminance: float = 40.0  # mean grey level of the face; below: too dark
    max_luminance: float = 230.0  # above: over-exposed
    max_head_speed_deg_s: float = 60.0  # above: head motion masks small expressions
    min_face_size_px: float = 80.0  # face box height; below: too few pixels for micro-movements


QUALITY_COLUMNS = (
    "sharpness",
    "luminance",
    "luminance_jump",
    "head_speed_deg_s",
    "face_size_px",
    "flag_blur",
    "flag_lighting",
    "flag_motion",
    "flag_small",
)


def face_box(
    landmarks: np.ndarray, width: int, height: int, *, margin: float = 0.1
) -> tuple[int, int, int, int]:
    """Landmark bounding box (x0, y0, x1, y1) in pixels, grown by ``margin`` and clipped to the image."""
    return _box(*_extent(landmarks), width, height, margin)


def _extent(landmarks: np.ndarray) -> tuple[tuple, tuple]:
    """The landmarks' (x, y) minima and maxima (four 1-D reductions: NumPy's axis-0 ones are slower)."""
    x, y = landmarks[:, 0], landmarks[:, 1]
    return (x.min(), y.min()), (x.max(), y.max())


def _box(lo: tuple, hi: tuple, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """:func:`face_box` from the landmarks' (x, y) minima and maxima."""
    x0, y0 = lo
    x1, y1 = hi
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (
        int(max(0, np.floor(x0 - mx))),
        int(max(0, np.floor(y0 - my))),
        int(min(width, np.ceil(x1 + mx))),
        int(min(height, np.ceil(y1 + my))),
    )


def crop_measures(
    image: np.ndarray, landmarks: np.ndarray, grey: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(sharpness, luminance, face_size_px) of the face in an RGB frame.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        landmarks: (478, 2+) pixels.
        grey: the frame already converted to grey (cv2.COLOR_RGB2GRAY), if the caller has it: the same
            values, without converting the face box again.
    """
    h, w = image.shape[:2]
    lo, hi = _extent(landmarks)
    x0, y0, x1, y1 = _box(lo, hi, w, h, 0.1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0, 0.0, 0.0
    if grey is not None:
        crop = np.ascontiguousarray(grey[y0:y1, x0:x1])
    else:
        crop = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    # crop.mean(), exactly: the sum of uint8 values is an integer, which OpenCV's sum and NumPy's float64
    # pairwise sum both hold exactly (below 2**53), divided by the count the same way; 25x faster
    lum = cv2.sumElems(crop)[0] / crop.size
    small = cv2.resize(crop, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(small, cv2.CV_64F).var())
    size = float(hi[1] - lo[1])
    return sharp, lum, size


def flags(
    sharpness: float,
    luminance: float,
    luminance_jump: float,
    head_speed_deg_s: float,
    face_size_px: float,
    th: QualityThresholds = QualityThresholds(),
) -> tuple[int, int, int, int]:
    """(flag_blur, flag_lighting, flag_motion, flag_small) as 0/1."""
    lighting = (
        luminance < th.min_luminance or luminance > th.max_luminance or luminance_jump > th.max_luminance_jump
    )
    return (
        int(sharpness < th.min_sharpness),
        int(lighting),
        int(head_speed_deg_s > th.max_head_speed_deg_s),
        int(face_size_px < th.min_face_size_px),
    )
