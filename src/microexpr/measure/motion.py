"""Pixel-level motion: optical flow inside landmark-defined regions of the aligned face.

MediaPipe's landmarks are regularised by its face model: they follow a rendered cheek raise (AU06) or lid
movement only by a tenth of the true displacement. Dense optical flow between the face's aligned crop
and its neutral crop sees those movements. Each face in each frame is warped (2D similarity of its stable
points onto a fixed template) to a CROP_PX square grey crop; after calibration, DIS optical flow from the
neutral crop to each frame's crop is averaged inside small regions around landmark groups, less the
median flow of the whole crop (residual alignment error), in inter-ocular distances (IOD).
"""

from __future__ import annotations

import cv2
import numpy as np

from microexpr.facs import LM
from microexpr.measure.align import STABLE, FixedTarget

CROP_PX = 128
CROP_UNIT_PX = CROP_PX / 2.2  # one IOD in crop pixels: the crop spans 2.2 IOD from brow to chin
_ORIGIN = np.array([CROP_PX / 2.0, 0.75 * CROP_UNIT_PX])  # where the eyes' midpoint lands
# Stable points (facs.LM.STABLE order) of a frontal face, eyes' midpoint at 0, IOD = 1 (mean of two faces).
_TEMPLATE = (
    np.array(
        [
            [-0.011, -0.527],
            [-0.006, -0.039],
            [-0.005, 0.047],
            [-0.007, 0.124],
            [-0.006, 0.193],
            [-0.201, 0.028],
            [0.198, 0.029],
            [-0.769, 0.235],
            [0.766, 0.235],
            [-0.782, 0.086],
            [0.775, 0.085],
            [-0.754, 0.388],
            [0.75, 0.389],
        ]
    )
    * CROP_UNIT_PX
    + _ORIGIN
)

# (feature name, landmark group, radius in IOD, component): "up" = -v, "out" = lateral away from the midline
_REGIONS: tuple[tuple[str, tuple[int, ...], float, str], ...] = (
    ("flow_brow_inner_R", LM.BROW_INNER_R, 0.07, "up"),
    ("flow_brow_inner_L", LM.BROW_INNER_L, 0.07, "up"),
    ("flow_brow_outer_R", LM.BROW_OUTER_R, 0.07, "up"),
    ("flow_brow_outer_L", LM.BROW_OUTER_L, 0.07, "up"),
    ("flow_upper_lid_R", LM.EYE_UPPER_R_ALL, 0.04, "up"),
    ("flow_upper_lid_L", LM.EYE_UPPER_L_ALL, 0.04, "up"),
    ("flow_lower_lid_R", LM.EYE_LOWER_R_ALL, 0.04, "up"),
    ("flow_lower_lid_L", LM.EYE_LOWER_L_ALL, 0.04, "up"),
    ("flow_cheek_R", LM.CHEEK_R, 0.10, "up"),
    ("flow_cheek_L", LM.CHEEK_L, 0.10, "up"),
    ("flow_nose_ala_R", LM.NOSE_ALA_R, 0.06, "up"),
    ("flow_nose_ala_L", LM.NOSE_ALA_L, 0.06, "up"),
    ("flow_upper_lip", LM.UPPER_LIP_TOP_ALL, 0.05, "up"),
    ("flow_lower_lip", LM.LOWER_LIP_BOTTOM_ALL, 0.05, "up"),
    ("flow_corner_R", LM.MOUTH_CORNER_R_ALL[:3], 0.06, "up"),
    ("flow_corner_L", LM.MOUTH_CORNER_L_ALL[:3], 0.06, "up"),
    ("flow_corner_out_R", LM.MOUTH_CORNER_R_ALL[:3], 0.06, "out"),
    ("flow_corner_out_L", LM.MOUTH_CORNER_L_ALL[:3], 0.06, "out"),
    ("flow_chin", LM.CHIN_ALL, 0.10, "up"),
)
FLOW_FEATURE_NAMES: tuple[str, ...] = tuple(r[0] for r in _REGIONS)
_TEMPLATE_FIT = FixedTarget(_TEMPLATE)


def crop_transform(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) affine matrix taking image pixels to the aligned crop (2D similarity of the stable points)."""
    s, r, t = _TEMPLATE_FIT.fit(np.asarray(landmarks, np.float64)[STABLE, :2])
    return np.hstack([s * r, t[:, None]])


def face_crop(grey: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aligned grey crop of one face.

    Args:
        grey: (H, W) uint8 frame.
        landmarks: (478, 3) pixels.

    Returns:
        (CROP_PX, CROP_PX) uint8 crop and the (2, 3) image-to-crop matrix.
    """
    m = crop_transform(landmarks)
    crop = cv2.warpAffine(
        grey, m, (CROP_PX, CROP_PX), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop, m.astype(np.float32)


def region_masks(landmarks_crop: np.ndarray) -> list[np.ndarray]:
    """Flat pixel indices of each region, from landmarks already in crop coordinates ((478, 2))."""
    yy, xx = np.mgrid[0:CROP_PX, 0:CROP_PX]
    out = []
    for _name, idx, radius, _comp in _REGIONS:
        m = np.zeros((CROP_PX, CROP_PX), bool)
        r2 = (radius * CROP_UNIT_PX) ** 2
        for i in idx:
            m |= (xx - landmarks_crop[i, 0]) ** 2 + (yy - landmarks_crop[i, 1]) ** 2 <= r2
        out.append(np.flatnonzero(m))
    return out


def to_crop(landmarks: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Landmarks (478, 2+) in image pixels -> crop pixels with the (2, 3) matrix."""
    p = np.asarray(landmarks, np.float64)[:, :2]
    return p @ np.asarray(m, np.float64)[:, :2].T + np.asarray(m, np.float64)[:, 2]


class FlowMeter:
    """Region flow features of crops against one neutral crop.

    Args:
        neutral: (CROP_PX, CROP_PX) uint8 neutral crop.
        neutral_landmarks_crop: (478, 2) neutral landmarks in crop pixels (they place the regions).
    """

    def __init__(self, neutral: np.ndarray, neutral_landmarks_crop: np.ndarray) -> None:
        self.neutral = np.ascontiguousarray(neutral, np.uint8)
        self.masks = region_masks(neutral_landmarks_crop)
        mid_x = float(np.mean(neutral_landmarks_crop[list(LM.NOSE_BRIDGE), 0]))
        self.sign_out = np.array(
            [
                (1.0 if float(np.mean(neutral_landmarks_crop[list(idx), 0])) > mid_x else -1.0)
                for _, idx, _, _ in _REGIONS
            ]
        )
        self.is_up = np.array([c == "up" for *_, c in _REGIONS])
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        # occlusion zones: the face's left and right eye/brow/cheek sides and the mouth and chin
        zones: dict[str, list[np.ndarray]] = {"R": [], "L": [], "mouth": []}
        for (name, *_), idx in zip(_REGIONS, self.masks):
            zone = "mouth" if any(k in name for k in ("lip", "corner", "chin")) else name[-1]
            zones[zone].append(idx)
        self.zones = [np.unique(np.concatenate(z)) for z in zones.values() if z]
        self._grid = np.mgrid[0:CROP_PX, 0:CROP_PX][::-1].astype(np.float32)  # (x, y)
        self._last_flow: np.ndarray | None = None
        # constants of the per-frame work, computed once (the same values the per-frame code computed)
        n = CROP_PX * CROP_PX
        self._kth = (n // 2 - 1, n // 2, n - 1)  # np.median's partition points (n is even)
        self._uv = np.empty((2, n), np.float32)  # the flow's u and v, contiguous (see _medians)
        self._guess: list[float] | None = None  # the last medians of u and v
        self._half = [0.05, 0.05]  # half-widths of the windows around them, px (adapted as frames come)
        up = [k for k in range(len(self.masks)) if self.is_up[k] and len(self.masks[k])]
        out = [k for k in range(len(self.masks)) if not self.is_up[k] and len(self.masks[k])]
        # region pixels gathered at once from the interleaved (u, v) flow: 2 * pixel (+ 1 for v)
        self._up_regions = self._slices(up, 1)
        self._out_regions = self._slices(out, 0)
        b = self.neutral.astype(np.float32).ravel()
        self._zone_neutral = []
        for idx in self.zones:
            y = b[idx] - b[idx].mean() if len(idx) else b[idx]
            self._zone_neutral.append((y, (y * y).sum()))

    def _slices(self, regions: list[int], component: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Flat indices into the (u, v)-interleaved flow of the regions' pixels, and each region's slice."""
        idx = [2 * self.masks[k] + component for k in regions]
        bounds = np.cumsum([0] + [len(i) for i in idx])
        flat = np.concatenate(idx) if idx else np.zeros(0, np.intp)
        return flat, [(k, int(bounds[j]), int(bounds[j + 1])) for j, k in enumerate(regions)]

    def _medians(self, flow: np.ndarray) -> tuple[np.float32, np.float32]:
        """np.median of the flow's u and of its v, bit-identical to it.

        The flow's median moves little from one frame to the next, so each component's is first looked for
        among the values near the last one (:meth:`_near_median`): a count of the values below a window
        and a partition of the few inside it give the two middle values exactly, for a third of the cost
        of partitioning all of them. Where the window misses them (or holds zeros, whose sign a full
        partition would settle), both are taken from one partition of everything, as np.median does.
        """
        uv = flow.reshape(-1, 2).T  # (2, n) view
        if self._guess is not None and not np.isnan(uv.max()):  # (NaN anywhere: np.median gives NaN)
            np.copyto(self._uv, uv)
            got = (self._near_median(0), self._near_median(1))
            if got[0] is not None and got[1] is not None:
                return got[0], got[1]
        part = np.partition(uv, self._kth, axis=1)
        a, b = self._kth[0], self._kth[1]
        out = []
        for c in range(2):
            if np.isnan(part[c, -1]):  # as np.median: NaN anywhere gives NaN
                out.append(np.float32(np.nan))
            else:
                out.append(np.float32(float(np.add.reduce(part[c, a : b + 1])) / 2))
        self._guess = [float(out[0]), float(out[1])] if not (np.isnan(out[0]) or np.isnan(out[1])) else None
        return out[0], out[1]

    def _near_median(self, c: int) -> np.float32 | None:
        """The median of component ``c`` of the flow copied to ``_uv`` from the values within ``_half`` of
        the last one, or None where the two middle values are not both in that window (or are zeros)."""
        x = self._uv[c]
        n = len(x)
        k = n // 2  # the two middle values are the (k-1)-th and k-th smallest (n is even)
        lo, hi = self._guess[c] - self._half[c], self._guess[c] + self._half[c]
        below = int(np.count_nonzero(x < lo))
        inside = x[(x >= lo) & (x <= hi)]
        r = k - 1 - below
        if r < 0 or r + 1 >= len(inside):  # a middle value is outside the window: widen it for next time
            self._half[c] *= 2.0
            return None
        part = np.partition(inside, (r, r + 1))
        m1, m2 = part[r], part[r + 1]
        if m1 == 0 or m2 == 0:  # -0.0 and 0.0 compare equal: which one is in the middle is np.median's call
            return None
        if len(inside) > n // 4:  # a wide window: narrow it (the partition is what costs)
            self._half[c] *= 0.7
        med = np.float32(float(m1 + m2) / 2)  # as np.median: the float32 sum of the two, halved
        self._guess[c] = float(med)
        return med

    def features(self, crop: np.ndarray) -> np.ndarray:
        """(len(FLOW_FEATURE_NAMES),) float64 in IOD units."""
        flow = self._dis.calc(self.neutral, np.ascontiguousarray(crop, np.uint8), None)
        self._last_flow = flow
        # most of the face is still in any one action: the median is alignment error
        mu, mv = self._medians(flow)
        flat = flow.reshape(-1)
        out = np.zeros(len(self.masks))  # a region outside the crop (extreme pose) gives no evidence: 0
        # each region's mean as ndarray.mean computes it (float32 pairwise sum, divided in float64, rounded
        # to float32), without its per-call overhead
        idx, regions = self._up_regions
        g = flat[idx] - mv
        for k, a, b in regions:
            out[k] = -np.float32(float(np.add.reduce(g[a:b])) / (b - a))
        idx, regions = self._out_regions
        g = flat[idx] - mu
        for k, a, b in regions:
            out[k] = self.sign_out[k] * np.float32(float(np.add.reduce(g[a:b])) / (b - a))
        return out / CROP_UNIT_PX

    def occlusion(self, crop: np.ndarray) -> float:
        """How much of the face the motion cannot explain, 0 (none) to 1, for the crop last passed to
        :meth:`features`: the crop is warped back onto the neutral by the flow, and each zone (left side,
        right side, mouth and chin) is compared with the neutral by normalised cross-correlation. An
        expression moves skin, which the flow undoes; a hand or an object replaces it, which it cannot."""
        if self._last_flow is None:
            self.features(crop)
        flow = self._last_flow
        mx = self._grid[0] + flow[..., 0]
        my = self._grid[1] + flow[..., 1]
        back = cv2.remap(
            np.asarray(crop, np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        a = back.ravel()
        worst = 0.0
        for idx, (y, yy) in zip(self.zones, self._zone_neutral):
            if len(idx) == 0:  # the zone is outside the crop: nothing of it can be explained (ncc 0)
                worst = 1.0
                continue
            x = a[idx]
            x = x - np.float32(float(np.add.reduce(x)) / len(x))  # x - x.mean(), as ndarray.mean computes it
            den = float(np.sqrt(np.add.reduce(x * x) * yy))
            ncc = float(np.add.reduce(x * y) / den) if den > 1e-6 else 0.0
            worst = max(worst, 1.0 - ncc)
        return float(np.clip(worst, 0.0, 1.0))
