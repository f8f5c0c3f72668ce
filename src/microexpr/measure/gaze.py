"""Gaze angles from the iris landmarks and the head pose.

``gaze_angle_x`` > 0 when the gaze points toward the viewer's right, ``gaze_angle_y`` > 0 when it points
down; radians, in the camera frame (head rotation plus the eyes' rotation in the head), averaged over both
eyes. The eye-in-head angle comes from the iris centre's offset from the eye centre, as a fraction of the
eye's width, through a spherical eyeball whose radius is 0.4 eye widths (12 mm for a 30 mm eye).
"""

from __future__ import annotations

import numpy as np

from microexpr.facs import LM

EYEBALL_RADIUS_EYE_WIDTHS = 0.4

_EYES = (
    (LM.EYE_OUTER_R, LM.EYE_INNER_R, LM.EYE_UPPER_R_ALL, LM.EYE_LOWER_R_ALL, LM.IRIS_R[0]),
    (LM.EYE_INNER_L, LM.EYE_OUTER_L, LM.EYE_UPPER_L_ALL, LM.EYE_LOWER_L_ALL, LM.IRIS_L[0]),
)
# the same, with the lid point lists as index arrays (built once, not on every frame)
_EYE_IDX = tuple((lc, rc, np.array(up, np.intp), np.array(lo, np.intp), ir) for lc, rc, up, lo, ir in _EYES)


def _clip1(x: float) -> float:
    """``np.clip(x, -1, 1)`` of one float (NaN stays NaN), without NumPy's per-call overhead."""
    return min(max(x, -1.0), 1.0)


def eye_in_head(landmarks: np.ndarray) -> np.ndarray:
    """(x, y) eye-in-head gaze angles in radians, mean of both eyes, from (478, 3) pixel landmarks."""
    p = np.asarray(landmarks, np.float64)[:, :2]
    angles = []
    r = EYEBALL_RADIUS_EYE_WIDTHS
    for left_corner, right_corner, upper, lower, iris in _EYE_IDX:
        a, b = p[left_corner], p[right_corner]  # image-left and image-right corner of this eye
        ab = b - a
        width = np.sqrt(ab.dot(ab))  # np.linalg.norm(b - a), as it computes it
        if width < 1e-6:
            continue
        ex = ab / width
        ey = np.array([-ex[1], ex[0]])  # image-down direction in the eye's own frame
        centre = 0.5 * (a + b)
        centre_y = 0.5 * (p[upper].mean(0) + p[lower].mean(0))
        off = p[iris] - centre
        dx = off @ ex / width
        dy = (p[iris] - centre_y) @ ey / width
        angles.append((np.arcsin(_clip1(dx / r)), np.arcsin(_clip1(dy / r))))
    if not angles:
        return np.array([np.nan, np.nan])
    if len(angles) == 2:  # np.mean(angles, axis=0): the sum of the two rows over their count
        (x0, y0), (x1, y1) = angles
        return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    return np.mean(angles, axis=0)


def gaze_angles(landmarks: np.ndarray, head_yaw: float, head_pitch: float) -> np.ndarray:
    """(gaze_angle_x, gaze_angle_y) in radians in the camera frame (eye-in-head plus head rotation)."""
    e = eye_in_head(landmarks)
    return np.array([e[0] + head_yaw, e[1] + head_pitch])
