"""Per-face, per-frame measures: alignment to the face's reference, geometry, head pose, gaze, quality.

:class:`FaceMeasurer` keeps the little state that spans frames (each face's reference shape, previous
rotation and luminance) so that a stream of observations can be measured one frame at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from microexpr.measure.align import STABLE, FixedTarget, iod
from microexpr.measure.gaze import gaze_angles
from microexpr.measure.geometry import features_aligned
from microexpr.measure.pose import angular_distance_deg, pose_from, rotation_translation
from microexpr.measure.quality import QualityThresholds, flags
from microexpr.types import FaceObservation

N_QUALITY = 9


@dataclass(frozen=True)
class FaceMeasures:
    """What one face in one frame measured (AUs come later, once the neutral face is known).

    Attributes:
        face_id: stable id.
        confidence: [0, 1], from how well the stable points fit the face's reference shape.
        pose: (6,) Tx, Ty, Tz (mm), Rx, Ry, Rz (rad).
        gaze: (2,) gaze_angle_x, gaze_angle_y (rad).
        geo: (n_features,) geometry features, IOD units of the reference.
        quality: (9,) sharpness, luminance, luminance_jump, head_speed_deg_s, face_size_px, four 0/1 flags.
    """

    face_id: int
    confidence: float
    pose: np.ndarray
    gaze: np.ndarray
    geo: np.ndarray
    quality: np.ndarray


@dataclass
class _FaceState:
    reference: np.ndarray
    unit: float
    target: FixedTarget  # the reference's stable points, for the per-frame alignment
    rotation: np.ndarray | None = None
    t_s: float | None = None
    luminance: float | None = None
    poses: deque = field(default_factory=deque)  # (t_s, rotation) over the last SPEED_WINDOW_S


SPEED_WINDOW_S = 0.05  # head speed is the rotation over at least this long: frame-to-frame pose jitter
# divided by 1/200 s would read as fast motion at high frame rates


@dataclass
class FaceMeasurer:
    """Measures faces frame by frame.

    Attributes:
        reference_for: face_id and first observation -> the (478, 3) reference shape to align that face to.
        thresholds: quality thresholds for the flags.
    """

    reference_for: Callable[[int, FaceObservation], np.ndarray]
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    _state: dict[int, _FaceState] = field(default_factory=dict)

    def references(self) -> dict[int, np.ndarray]:
        """Each measured face's reference shape, by face id."""
        return {f: st.reference for f, st in self._state.items()}

    def measure(self, face: FaceObservation, t_s: float, crop: tuple[float, float, float]) -> FaceMeasures:
        """Measures of one face.

        Args:
            face: observation with its face id set.
            t_s: frame time in seconds.
            crop: (sharpness, luminance, face_size_px) measured on the frame's pixels.
        """
        st = self._state.get(face.face_id)
        if st is None:
            ref = np.asarray(self.reference_for(face.face_id, face), np.float64)
            st = self._state[face.face_id] = _FaceState(ref, iod(ref), FixedTarget(ref[STABLE]))
        # align_to(landmarks, reference), its fit's constants taken from the face's state
        lm = np.asarray(face.landmarks_px, np.float64)
        scale, r, t = st.target.fit(lm[STABLE])
        aligned = scale * lm @ r.T + t
        geo = features_aligned(aligned, st.unit)
        resid = float(np.sqrt(((aligned[STABLE] - st.target.dst) ** 2).sum(1).mean()) / max(st.unit, 1e-9))
        confidence = float(face.confidence * (1.0 - min(max((resid - 0.02) / 0.10, 0.0), 1.0)))
        rot, trans = rotation_translation(face.transform)
        pose = pose_from(rot, trans)
        gaze = gaze_angles(face.landmarks_px, pose[4], pose[3])
        sharp, lum, size = crop
        speed = 0.0
        jump = 0.0
        if st.t_s is not None and t_s > st.t_s:
            while len(st.poses) > 1 and st.poses[1][0] <= t_s - SPEED_WINDOW_S + 1e-9:
                st.poses.popleft()  # keep the newest pose at least a window old, and what came after it
            t0, rot0 = st.poses[0]
            speed = angular_distance_deg(rot0, rot) / (t_s - t0)
            jump = abs(lum - st.luminance)
        elif st.t_s is not None:
            st.poses.clear()  # time went backwards (a new photo): start again
        st.poses.append((t_s, rot))
        st.rotation, st.t_s, st.luminance = rot, t_s, lum
        fl = flags(sharp, lum, jump, speed, size, self.thresholds)
        quality = np.array([sharp, lum, jump, speed, size, *fl], np.float64)
        return FaceMeasures(face.face_id, confidence, pose, gaze, geo, quality)
