"""Head pose from MediaPipe's facial transformation matrix.

Conventions (camera frame as OpenFace uses it: x to the image right, y down, z away from the camera):
``pose_Tx/Ty/Tz`` in millimetres; ``pose_Rx`` (pitch) > 0 when the chin goes down, ``pose_Ry`` (yaw) > 0
when the face turns toward the viewer's right (the nose moves right in the image), ``pose_Rz`` (roll) > 0
when the head tilts clockwise as the viewer sees the image. Angles in radians.
"""

from __future__ import annotations

import numpy as np

from microexpr.measure.align import det, svd

_FLIP = np.diag([1.0, -1.0, -1.0])  # MediaPipe's metric space (y up, z toward the viewer) -> camera frame


def rotation_translation(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the 4x4 facial transform into a pure rotation (3, 3) and a translation in mm, camera frame."""
    m = np.asarray(transform, np.float64)
    a = m[:3, :3]
    u, _, vt = svd(a)  # remove scale / shear: nearest rotation
    r = u @ vt
    if det(r) < 0:
        r = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    return _FLIP @ r @ _FLIP, _FLIP @ m[:3, 3] * 10.0


def euler_from_rotation(r: np.ndarray) -> np.ndarray:
    """(pitch, yaw, roll) in radians from a camera-frame rotation, R = Rx(pitch) @ Ry(yaw) @ Rz(roll)."""
    pitch = np.arctan2(-r[1, 2], r[2, 2])
    yaw = np.arcsin(np.clip(r[0, 2], -1.0, 1.0))
    roll = np.arctan2(-r[0, 1], r[0, 0])
    return np.array([pitch, yaw, roll])


def head_pose(transform: np.ndarray) -> np.ndarray:
    """(Tx, Ty, Tz, Rx, Ry, Rz): translation in mm and rotation in radians, signed as the module says."""
    return pose_from(*rotation_translation(transform))


def pose_from(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    """:func:`head_pose` from an already split rotation and translation (camera frame, mm)."""
    pitch, yaw, roll = euler_from_rotation(r)
    # MediaPipe's canonical face looks toward +z, so in the camera frame yaw comes out opposite to the
    # convention above (checked against rendered rotations in tests/pipeline/test_measures.py).
    return np.array([t[0], t[1], t[2], pitch, -yaw, roll])


def angular_distance_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    """Angle in degrees of the rotation taking r1 to r2."""
    c = (np.trace(r1.T @ r2) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
