"""Stable face ids across frames: association by position and face shape, never by identity embeddings.

Each frame's faces are matched to the known tracks by the Hungarian method on a cost that adds the
distance between face centres (in face widths) and the difference between coarse face-shape ratios (eye,
nose and face-side distances over the inter-ocular distance). A track that is lost keeps its id for
``max_lost_s``; a face that reappears near its last position, or far from it but with the same shape while
no other track fits, gets the old id back (re-identification after short losses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from microexpr.types import FaceObservation

_SHAPE_POINTS = (33, 133, 362, 263, 1, 168, 6, 234, 454, 10)
_PAIRS = np.array(list(combinations(range(len(_SHAPE_POINTS)), 2)))


_SHAPE_IDX = np.array(_SHAPE_POINTS, np.intp)
_PAIR_A, _PAIR_B = _PAIRS[:, 0].copy(), _PAIRS[:, 1].copy()


def face_shape(landmarks: np.ndarray) -> np.ndarray:
    """Pairwise distances of rigid face points over the inter-ocular distance (pose-sensitive, expression-stable)."""
    p = np.asarray(landmarks, np.float64)[_SHAPE_IDX, :2]
    x = p[_PAIR_A] - p[_PAIR_B]
    d = np.sqrt(np.add.reduce(x * x, axis=1))  # np.linalg.norm(x, axis=1), as it computes it
    e = p[0] - p[3]
    return d / max(np.sqrt(e.dot(e)), 1e-6)


def face_centre_and_width(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    p = np.asarray(landmarks, np.float64)
    x = p[:, 0]
    return p[:, :2].mean(0), float(max(x.max() - x.min(), 1.0))  # (np.ptp is max - min)


@dataclass
class _Track:
    face_id: int
    centre: np.ndarray
    velocity: np.ndarray
    width: float
    shape: np.ndarray
    last_t: float
    hits: int = 1


@dataclass
class FaceTracker:
    """Assigns stable face ids.

    Attributes:
        max_lost_s: how long a lost face keeps its id, in seconds.
        max_jump: largest centre move between frames for an active track, in face widths.
        max_shape_diff: largest mean shape-ratio difference accepted for re-identification far away.
    """

    max_lost_s: float = 3.0
    max_jump: float = 0.6
    max_shape_diff: float = 0.06
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0
    # one face and one track: the assignment is that pair (what the Hungarian method returns), without it
    one_pair_fast = True

    def update(self, t_s: float, faces: list[FaceObservation]) -> list[FaceObservation]:
        """Give each face of one frame its id; returns the faces (same order) with ``face_id`` set."""
        self._tracks = [tr for tr in self._tracks if t_s - tr.last_t <= self.max_lost_s]
        if not faces:
            return []
        obs = [(*face_centre_and_width(f.landmarks_px), face_shape(f.landmarks_px)) for f in faces]
        cost = np.full((len(faces), len(self._tracks)), 1e6)
        for i, (c, w, s) in enumerate(obs):
            for j, tr in enumerate(self._tracks):
                dt = max(t_s - tr.last_t, 0.0)
                pred = tr.centre + tr.velocity * min(dt, 0.5)
                dc = c - pred
                jump = np.sqrt(dc.dot(dc)) / max(w, tr.width)  # np.linalg.norm(c - pred), as it computes it
                shape_diff = float(np.abs(s - tr.shape).mean())
                allowed = self.max_jump * (1.0 + 4.0 * min(dt, 1.0))  # a lost face may have moved
                if jump <= allowed:
                    cost[i, j] = jump + 5.0 * shape_diff
                elif shape_diff <= self.max_shape_diff and dt > 0.1:
                    cost[i, j] = 10.0 + jump + 5.0 * shape_diff  # far away: only when nothing closer fits
        if self.one_pair_fast and len(faces) == 1 and len(self._tracks) == 1 and math.isfinite(cost[0, 0]):
            rows, cols = np.zeros(1, int), np.zeros(1, int)
        elif self._tracks:
            rows, cols = linear_sum_assignment(cost)
        else:
            rows, cols = np.array([], int), np.array([], int)
        ids = [-1] * len(faces)
        for i, j in zip(rows, cols):
            if cost[i, j] >= 1e6:
                continue
            tr = self._tracks[j]
            c, w, s = obs[i]
            dt = t_s - tr.last_t
            if 0 < dt <= 0.5:
                tr.velocity = 0.5 * tr.velocity + 0.5 * (c - tr.centre) / dt
            tr.centre, tr.width, tr.last_t = c, w, t_s
            tr.shape = 0.9 * tr.shape + 0.1 * s
            tr.hits += 1
            ids[i] = tr.face_id
        for i, fid in enumerate(ids):
            if fid < 0:
                c, w, s = obs[i]
                tr = _Track(self._next_id, c, np.zeros(2), w, s, t_s)
                self._next_id += 1
                self._tracks.append(tr)
                ids[i] = tr.face_id
        return [f.with_id(fid) for f, fid in zip(faces, ids)]
