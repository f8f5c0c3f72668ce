"""Render frames of a face photo in which chosen Action Units move, with optional head motion.

A landmark-driven smooth warp: each AU moves landmark groups (see :mod:`microexpr.synth.motions`), a
thin-plate spline spreads the landmark displacements into a dense field, and the photo is resampled
(backward mapping). The eye and mouth openings are composited from layers that AUs do not stretch (the
eyeball; the mouth interior), so that a lid slides over the eye and parted lips show a dark mouth.

Conventions (image coordinates: x right, y down; MediaPipe's z, away from the camera):

- ``roll_deg > 0`` turns the face clockwise as the viewer sees it.
- ``yaw_deg > 0`` turns the face toward the viewer's right: the nose moves right in the image.
- ``pitch_deg > 0`` nods the face down: the chin goes down and back, the nose moves down in the image.
- Rotations are applied yaw, then pitch, then roll, about a pivot one inter-ocular distance behind the nose
  tip, with orthographic projection; ``shift_px`` then translates the face (x right, y down, pixels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from microexpr.errors import OptionError
from microexpr.facs import AU_CODES, LM
from microexpr.synth.motions import AU_MOTIONS, MAX_INTENSITY, au_constraints, face_axes
from microexpr.synth.openings import close_eye, composite, make_openings
from microexpr.synth.photos import FacePhoto
from microexpr.synth.tps import ThinPlate

N_IRIS = 10
# fmt: off
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
    149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# fmt: on
_FIXED_POINT_STEPS_AU = 3
_FIXED_POINT_STEPS_HEAD = 6


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) rotation in image coordinates (x right, y down, z away from the camera).

    Positive yaw moves points in front of the pivot (the nose) to the right, positive pitch moves them down,
    positive roll turns the image plane clockwise as seen by the viewer. Applied yaw, then pitch, then roll.
    """
    y, p, r = (math.radians(v) for v in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    r_yaw = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return r_roll @ r_pitch @ r_yaw


class Renderer:
    """Renders one face photo with Action Units and head motion.

    The per-AU dense displacement fields are computed once here (linear in intensity, combined per frame);
    head motion needs one small product per frame on a coarse grid. Head motion conventions (see the module
    docstring): positive roll turns the face clockwise on screen, positive yaw moves the nose right in the
    image, positive pitch moves the chin down.

    Args:
        photo: the face photo and its landmarks.
        grid_step_px: spacing of the coarse grid on which head-motion fields are computed (2 to 64), pixels.
    """

    def __init__(self, photo: FacePhoto, *, grid_step_px: int = 8) -> None:
        if not isinstance(photo, FacePhoto):
            raise TypeError(f"photo must be a FacePhoto, but got {type(photo).__name__}")
        if not 2 <= int(grid_step_px) <= 64:
            raise OptionError(f"grid_step_px must be in [2, 64], but got {grid_step_px}")
        self.photo = photo
        self.grid_step_px = int(grid_step_px)
        self.height, self.width = photo.image.shape[:2]
        lm = photo.landmarks_px.astype(np.float64)
        # MediaPipe puts pixel j's centre at x = j + 0.5; cv2's maps put it at x = j
        self._lm3 = lm - np.array([0.5, 0.5, 0.0])
        self._lm = self._lm3[:, :2]
        _, _, self.iod_px = face_axes(self._lm)
        self._disp: dict[str, np.ndarray] = {}  # (478, 2) landmark displacement per unit intensity
        self._au_field: dict[str, tuple[tuple[int, int, int, int], np.ndarray]] = {}  # box, (h, w, 2) field
        for code in AU_CODES:
            self._au_basis(code)
        boxes = np.array([b for b, _ in self._au_field.values()])
        self._roi = (
            int(boxes[:, 0].min()),
            int(boxes[:, 1].min()),
            int(boxes[:, 2].max()),
            int(boxes[:, 3].max()),
        )
        self._setup_head()
        self._openings = make_openings(photo.image, self._lm, self.iod_px)
        self._hidden: np.ndarray | None = None

    # ---- set-up -------------------------------------------------------------------------------------------

    def _au_basis(self, code: str) -> None:
        """Dense forward displacement per unit intensity of one AU, over a box around what it moves."""
        c = au_constraints(code, self._lm)
        active = np.concatenate([c.nodes[c.moving], c.free])
        margin = max(0.2, AU_MOTIONS[code].reach_iod) * self.iod_px
        pts = self._lm[active]
        x0 = max(0, int(math.floor(pts[:, 0].min() - margin)))
        y0 = max(0, int(math.floor(pts[:, 1].min() - margin)))
        x1 = min(self.width, int(math.ceil(pts[:, 0].max() + margin)) + 1)
        y1 = min(self.height, int(math.ceil(pts[:, 1].max() + margin)) + 1)
        node_xy = self._lm[c.nodes]
        inside = (
            (node_xy[:, 0] > x0) & (node_xy[:, 0] < x1 - 1) & (node_xy[:, 1] > y0) & (node_xy[:, 1] < y1 - 1)
        )
        anchors = _rect_points(x0, y0, x1 - 1, y1 - 1, spacing=0.1 * self.iod_px)
        tps = ThinPlate(np.vstack([node_xy[inside], anchors]), scale=self.iod_px)
        values = np.vstack([c.disp_px[inside], np.zeros((len(anchors), 2))])
        coef = tps.coefficients(values)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        grid = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float64)
        field = tps.evaluate(grid, coef).reshape(y1 - y0, x1 - x0, 2)
        disp = np.zeros((len(self._lm), 2))
        disp[c.nodes] = c.disp_px
        if len(c.free):
            disp[c.free] = tps.evaluate(self._lm[c.free], coef)
        disp[c.torn] = c.torn_disp_px
        self._disp[code] = disp
        self._au_field[code] = ((x0, y0, x1, y1), np.ascontiguousarray(field))

    def _setup_head(self) -> None:
        """Coarse grid and the matrix that maps landmark displacements to the coarse forward field."""
        step = self.grid_step_px
        self._gw, self._gh = math.ceil(self.width / step), math.ceil(self.height / step)
        # node k of a cv2.resize source lies at full-resolution pixel (k + 0.5) * W / gw - 0.5
        gx = (np.arange(self._gw) + 0.5) * self.width / self._gw - 0.5
        gy = (np.arange(self._gh) + 0.5) * self.height / self._gh - 0.5
        qx, qy = np.meshgrid(gx, gy)
        self._coarse_q = np.stack([qx, qy], -1).astype(np.float32)
        # Two rings outside the face outline, at its depth, turn with the head: they keep the spline from
        # overshooting between the outline and the frame's border (hair, ears, neck follow the head).
        oval = self._lm3[list(FACE_OVAL)]
        centre = self._lm3[:, :2].mean(0)
        rings = [np.column_stack([centre + k * (oval[:, :2] - centre), oval[:, 2]]) for k in (1.15, 1.4)]
        nodes3 = np.vstack([self._lm3, *rings])
        keep = (
            (nodes3[:, 0] > 0)
            & (nodes3[:, 0] < self.width - 1)
            & (nodes3[:, 1] > 0)
            & (nodes3[:, 1] < self.height - 1)
        )
        keep[: len(self._lm3)] = True
        self._head_nodes3 = nodes3[keep]
        anchors = _rect_points(-0.5, -0.5, self.width - 0.5, self.height - 0.5, spacing=0.5 * self.iod_px)
        tps = ThinPlate(np.vstack([self._head_nodes3[:, :2], anchors]), scale=self.iod_px)
        solver = tps.solver()[:, : len(self._head_nodes3)]  # anchors have value 0
        design = tps.design(self._coarse_q.reshape(-1, 2).astype(np.float64))
        self._head_matrix = (design @ solver).astype(np.float32)  # (gh * gw, n_nodes)
        self._pivot = self._lm3[LM.NOSE_TIP] + np.array([0.0, 0.0, self.iod_px])
        self._full_grid = np.stack(
            np.meshgrid(np.arange(self.width, dtype=np.float32), np.arange(self.height, dtype=np.float32)), -1
        )

    # ---- rendering ----------------------------------------------------------------------------------------

    def landmarks(
        self,
        au: Mapping[str, float],
        *,
        yaw_deg: float = 0.0,
        pitch_deg: float = 0.0,
        roll_deg: float = 0.0,
        shift_px: tuple[float, float] = (0.0, 0.0),
    ) -> np.ndarray:
        """Where the renderer puts the 478 landmarks for these settings (the truth for a rendered frame).

        Args: as :meth:`render`.

        Returns:
            (478, 3) float32 in MediaPipe's pixel convention (pixel centres at +0.5; z in pixels).
        """
        a = _check_au(au)
        pts = self._moved_landmarks(a, rotation_matrix(yaw_deg, pitch_deg, roll_deg), _check_shift(shift_px))
        return (pts + np.array([0.5, 0.5, 0.0])).astype(np.float32)

    def _moved_landmarks(self, a: dict[str, float], rot: np.ndarray, shift: np.ndarray) -> np.ndarray:
        pts = self._lm3.copy()
        for code, v in a.items():
            pts[:, :2] += v * self._disp[code]
        return (pts - self._pivot) @ rot.T + self._pivot + np.array([shift[0], shift[1], 0.0])

    def render(
        self,
        au: Mapping[str, float],
        *,
        yaw_deg: float = 0.0,
        pitch_deg: float = 0.0,
        roll_deg: float = 0.0,
        shift_px: tuple[float, float] = (0.0, 0.0),
    ) -> np.ndarray:
        """One frame.

        Args:
            au: AU code -> intensity on the FACS 0-5 scale ("AU12": 3.0); missing codes are 0.
            yaw_deg: head turn in degrees; positive moves the nose toward the viewer's right.
            pitch_deg: head nod in degrees; positive moves the chin down.
            roll_deg: head tilt in degrees; positive turns the face clockwise as the viewer sees it.
            shift_px: (dx, dy) translation of the face in pixels (x right, y down).

        Returns:
            (H, W, 3) uint8 RGB frame, the photo's size. With all intensities 0 and no head motion it is
            the photo itself.

        Raises:
            OptionError: an unknown AU code, or an intensity outside [0, 5] or not finite.
        """
        a = _check_au(au)
        shift = _check_shift(shift_px)
        for name, v in (("yaw_deg", yaw_deg), ("pitch_deg", pitch_deg), ("roll_deg", roll_deg)):
            if not (math.isfinite(v) and abs(v) <= 60.0):
                raise OptionError(f"{name} must be finite and within +-60 degrees, but got {v}")
        head = bool(yaw_deg or pitch_deg or roll_deg or shift[0] or shift[1])
        if not a and not head:
            return self.photo.image.copy()
        rot = rotation_matrix(yaw_deg, pitch_deg, roll_deg)
        fbox, field = self._combined_field(a)
        if head:
            # (H, W, 2): per output pixel, its position in the neutral-pose (AU-deformed) photo
            p = self._head_backward_map(rot, shift)
            box = (0, 0, self.width, self.height)
            s = p
            if field is not None:
                # only output pixels that the head motion brings over the AU field need the AU inversion
                reach = int(math.ceil(float(np.abs(p - self._full_grid).max()))) + 2
                rx0, ry0 = max(fbox[0] - reach, 0), max(fbox[1] - reach, 0)
                rx1, ry1 = min(fbox[2] + reach, self.width), min(fbox[3] + reach, self.height)
                s = p.copy()
                s[ry0:ry1, rx0:rx1] = self._au_backward(p[ry0:ry1, rx0:rx1], field, fbox)
        else:
            box = fbox
            p = self._full_grid[box[1] : box[3], box[0] : box[2]]
            s = self._au_backward(p, field, fbox)
        out = self.photo.image.copy()
        bx0, by0, bx1, by1 = box
        out[by0:by1, bx0:bx1] = cv2.remap(
            self.photo.image, s[..., 0], s[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        if a:
            au_only = self._lm.copy()
            for code, v in a.items():
                au_only += v * self._disp[code]
            moved = self._moved_landmarks(a, rot, shift)[:, :2]
            head_only = self._moved_landmarks({}, rot, shift)[:, :2]
            for op in self._openings:
                composite(
                    out, op, neutral=self._lm, au_only=au_only, moved=moved, p=p, p_origin=box[:2], clip=box
                )
                close_eye(
                    out,
                    op,
                    neutral=self._lm,
                    au_only=au_only,
                    moved=moved,
                    head_only=head_only,
                    iod_px=self.iod_px,
                )
            self._shade(out, a, moved)
        return out

    def _combined_field(self, a: dict[str, float]) -> tuple[tuple[int, int, int, int], np.ndarray | None]:
        """Sum of the AUs' forward fields: (box (x0, y0, x1, y1), (h, w, 2) float32), None without AUs."""
        if not a:
            return self._roi, None
        boxes = np.array([self._au_field[c][0] for c in a])
        bx0, by0 = int(boxes[:, 0].min()), int(boxes[:, 1].min())
        bx1, by1 = int(boxes[:, 2].max()), int(boxes[:, 3].max())
        field = np.zeros((by1 - by0, bx1 - bx0, 2), np.float32)
        for code, v in a.items():
            (x0, y0, x1, y1), f = self._au_field[code]
            sub = field[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
            sub += f * np.float32(v)
        return (bx0, by0, bx1, by1), field

    def _head_backward_map(self, rot: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Per output pixel, the position in the (AU-deformed) neutral-pose photo, by fixed-point inversion."""
        target = (self._head_nodes3 - self._pivot) @ rot.T + self._pivot
        disp = target[:, :2] - self._head_nodes3[:, :2] + shift
        fwd = (self._head_matrix @ disp.astype(np.float32)).reshape(self._gh, self._gw, 2)
        q = self._coarse_q
        y = q - fwd
        sx, sy = self._gw / self.width, self._gh / self.height
        for _ in range(_FIXED_POINT_STEPS_HEAD):
            u = (y[..., 0] + 0.5) * sx - 0.5
            v = (y[..., 1] + 0.5) * sy - 0.5
            y = q - cv2.remap(fwd, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        back = cv2.resize(y - q, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return self._full_grid + back

    def _au_backward(self, p: np.ndarray, field: np.ndarray, fbox: tuple[int, int, int, int]) -> np.ndarray:
        """Solve s + F(s) = p for s, per pixel (F: the forward AU field over ``fbox``; 0 outside it)."""
        off = np.array(fbox[:2], np.float32)
        pr = p - off
        s = pr - _sample(field, pr)
        for _ in range(_FIXED_POINT_STEPS_AU - 1):
            s = pr - _sample(field, s)
        return s + off

    def _shade(self, out: np.ndarray, a: dict[str, float], moved: np.ndarray) -> None:
        """Darken the AUs' shading spots (dimples, furrows) in proportion to intensity."""
        ex, ey, iod = face_axes(moved)
        for code, v in a.items():
            for lm_i, up, lateral, width, height, strength in AU_MOTIONS[code].shade:
                side = float(np.sign((moved[lm_i] - moved[LM.NOSE_TIP]) @ ex))
                c = moved[lm_i] + (-up * ey + side * lateral * ex) * iod
                rx, ry = width * iod, height * iod
                h = int(math.ceil(3 * max(rx, ry)))
                bx0, by0 = max(int(c[0]) - h, 0), max(int(c[1]) - h, 0)
                bx1, by1 = min(int(c[0]) + h + 1, self.width), min(int(c[1]) + h + 1, self.height)
                if bx1 <= bx0 or by1 <= by0:
                    continue
                yy, xx = np.mgrid[by0:by1, bx0:bx1]
                du = (xx - c[0]) * ex[0] + (yy - c[1]) * ex[1]
                dv = (xx - c[0]) * ey[0] + (yy - c[1]) * ey[1]
                g = np.exp(-0.5 * ((du / rx) ** 2 + (dv / ry) ** 2))
                gain = (1.0 - strength * (v / MAX_INTENSITY) * g).astype(np.float32)[..., None]
                out[by0:by1, bx0:bx1] = np.clip(out[by0:by1, bx0:bx1] * gain + 0.5, 0, 255).astype(np.uint8)

    def hidden(self) -> np.ndarray:
        """A frame in which the face cannot be seen (the photo, heavily blurred): (H, W, 3) uint8."""
        if self._hidden is None:
            sigma = 0.6 * self.iod_px
            self._hidden = cv2.GaussianBlur(self.photo.image, (0, 0), sigma)
            self._hidden.setflags(write=False)
        return self._hidden.copy()


def _check_au(au: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for code, v in au.items():
        if code not in AU_MOTIONS:
            raise OptionError(f"unknown AU code {code!r}; the renderer knows {', '.join(AU_CODES)}")
        f = float(v)
        if not (math.isfinite(f) and 0.0 <= f <= MAX_INTENSITY + 1e-6):
            raise OptionError(f"{code} intensity must be in [0, 5], but got {v}")
        if f > 0.0:
            out[code] = min(f, MAX_INTENSITY)
    return out


def _check_shift(shift_px: tuple[float, float]) -> np.ndarray:
    s = np.asarray(shift_px, np.float64)
    if s.shape != (2,) or not np.isfinite(s).all():
        raise OptionError(f"shift_px must be two finite numbers (dx, dy), but got {shift_px!r}")
    return s


def _sample(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of an (h, w, 2) field at (..., 2) positions in its pixel coordinates; 0 outside."""
    return cv2.remap(
        field, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _rect_points(x0: float, y0: float, x1: float, y1: float, *, spacing: float) -> np.ndarray:
    """Points along the border of a rectangle, about ``spacing`` apart (corners included)."""
    nx = max(2, int(math.ceil((x1 - x0) / spacing)) + 1)
    ny = max(2, int(math.ceil((y1 - y0) / spacing)) + 1)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    pts = [
        np.stack([xs, np.full(nx, y0)], 1),
        np.stack([xs, np.full(nx, y1)], 1),
        np.stack([np.full(ny - 2, x0), ys[1:-1]], 1),
        np.stack([np.full(ny - 2, x1), ys[1:-1]], 1),
    ]
    return np.vstack(pts)
