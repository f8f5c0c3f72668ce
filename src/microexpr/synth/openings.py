"""The eye and mouth openings: layers that Action Units do not stretch, composited into a warped frame.

A smooth warp would squash the iris when a lid comes down and smear the lips into the gap when they part.
Instead, what lies inside an opening comes from a layer that moves only with the head: the eyeball (the
photo's visible eye, with the parts the lids hide painted in) and the mouth interior (the photo's teeth or
lip line, split at the middle so that the upper half follows the upper lip and the lower half the lower
lip, with a dark mouth painted around it). The lids and lips themselves come from the warp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from microexpr.facs import LM
from microexpr.synth.motions import EYE_OPENING_L, EYE_OPENING_R, GROUPS, MOUTH_OPENING

_SUBPIXEL_BITS = 4
LID_FOLD_R, LID_FOLD_L = GROUPS["LID_FOLD"].right, GROUPS["LID_FOLD"].left
CLOSING_FROM = 0.4  # share of the eye's height covered by the lid at which painting a closed lid starts
MIN_MOVE_PX = 0.02  # an opening whose contour moved less than this is left to the warp


@dataclass(frozen=True)
class Opening:
    """One opening and its layer(s).

    Attributes:
        indices: landmarks of the closed contour: corner, upper contour, other corner, lower contour back.
        n_upper: number of leading indices that form the upper contour, both corners included.
        box: (x0, y0, x1, y1) of the layer crops in photo pixels (x1, y1 exclusive).
        layers: (h, w, 3) float32 crops: one (the eyeball) or two (mouth: upper half, lower half).
        lid_rgb: eyes only: the colour of the upper lid's skin (3,) float32, painted over a closed eye.
        lash_rgb: eyes only: the colour of the lash line (3,) float32.
    """

    indices: tuple[int, ...]
    n_upper: int
    box: tuple[int, int, int, int]
    layers: tuple[np.ndarray, ...]
    lid_rgb: np.ndarray | None = None
    lash_rgb: np.ndarray | None = None


def make_openings(image: np.ndarray, lm: np.ndarray, iod_px: float) -> tuple[Opening, ...]:
    """Build the two eye openings and the mouth opening of a photo.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        lm: (478, 2) landmarks in cv2 pixel coordinates (pixel centres at integers).
        iod_px: inter-ocular distance in pixels.
    """
    out = []
    for poly, iris, fold in ((EYE_OPENING_R, LM.IRIS_R, LID_FOLD_R), (EYE_OPENING_L, LM.IRIS_L, LID_FOLD_L)):
        r = float(np.linalg.norm(lm[list(iris[1:])] - lm[iris[0]], axis=1).mean())
        box = _box(lm[list(poly)], 0.15 * iod_px, image.shape)
        lid, lash = _lid_colours(image, lm[list(poly[:9])], lm[list(fold)])
        out.append(Opening(poly, 9, box, (_eyeball(image, lm[list(poly)], lm[iris[0]], r, box),), lid, lash))
    box = _box(lm[list(MOUTH_OPENING)], 0.2 * iod_px, image.shape)
    out.append(Opening(MOUTH_OPENING, 11, box, _mouth(image, lm, box)))
    return tuple(out)


def composite(
    out: np.ndarray,
    op: Opening,
    *,
    neutral: np.ndarray,
    au_only: np.ndarray,
    moved: np.ndarray,
    p: np.ndarray,
    p_origin: tuple[int, int],
    clip: tuple[int, int, int, int],
) -> None:
    """Show an opening's layer inside its moved contour, in place.

    Args:
        out: (H, W, 3) uint8 frame being rendered.
        op: the opening.
        neutral: (478, 2) neutral landmarks (cv2 pixel coordinates).
        au_only: (478, 2) landmarks moved by the AUs, before head motion.
        moved: (478, 2) landmarks moved by the AUs and the head (output coordinates).
        p: (h, w, 2) per output pixel, its position in the neutral-pose photo (head motion undone).
        p_origin: output pixel (x, y) of ``p[0, 0]``.
        clip: (x0, y0, x1, y1) output region that ``p`` covers.
    """
    idx = list(op.indices)
    if np.abs(au_only[idx] - neutral[idx]).max() < MIN_MOVE_PX:
        return
    ex, ey = _axes(moved)
    pts = clamp_opening(moved[idx], op.n_upper, ex, ey)
    pad = 3
    x0 = max(int(math.floor(pts[:, 0].min())) - pad, clip[0])
    y0 = max(int(math.floor(pts[:, 1].min())) - pad, clip[1])
    x1 = min(int(math.ceil(pts[:, 0].max())) + pad + 1, clip[2])
    y1 = min(int(math.ceil(pts[:, 1].max())) + pad + 1, clip[3])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = _poly_mask((y1 - y0, x1 - x0), pts - [x0, y0])
    if not alpha.any():
        return
    pm = p[y0 - p_origin[1] : y1 - p_origin[1], x0 - p_origin[0] : x1 - p_origin[0]] - np.array(
        op.box[:2], np.float32
    )
    if len(op.layers) == 1:
        layer = _remap(op.layers[0], pm)
    else:
        layer = _split_layers(op, pm, neutral, au_only)
    region = out[y0:y1, x0:x1].astype(np.float32)
    a = alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(region + a * (layer - region) + 0.5, 0, 255).astype(np.uint8)


def _split_layers(op: Opening, pm: np.ndarray, neutral: np.ndarray, au_only: np.ndarray) -> np.ndarray:
    """Mouth: above the moved mid-line, the upper layer follows the upper lip; below, the lower layer the
    lower lip (displacements interpolated along the mouth)."""
    idx = list(op.indices)
    ex, ey = _axes(neutral)
    moved = clamp_opening(au_only[idx], op.n_upper, ex, ey)
    d = moved - neutral[idx]
    n = op.n_upper
    upper_i = np.arange(n)
    lower_i = np.concatenate([[0], np.arange(len(idx) - 1, n - 1, -1), [n - 1]])
    off = np.array(op.box[:2], np.float64)
    q = pm.astype(np.float64) + off  # photo coordinates (neutral pose)
    u, v = q @ ex, q @ ey

    def along(i: np.ndarray, values: np.ndarray) -> np.ndarray:
        cu = moved[i] @ ex
        order = np.argsort(cu)
        return np.interp(u, cu[order], values[i][order])

    mid = 0.5 * (along(upper_i, moved @ ey) + along(lower_i, moved @ ey))
    top = v < mid
    src = np.empty_like(q)
    for k in range(2):
        src[..., k] = np.where(top, q[..., k] - along(upper_i, d[:, k]), q[..., k] - along(lower_i, d[:, k]))
    src = (src - off).astype(np.float32)
    up = _remap(op.layers[0], src)
    low = _remap(op.layers[1], src)
    return np.where(top[..., None], up, low)


def clamp_opening(pts: np.ndarray, n_upper: int, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """Keep the lower contour of an opening at or below the upper one (lids or lips that cross are closed).

    Args:
        pts: (K, 2) contour: corner, upper contour, other corner, lower contour backwards.
        n_upper: leading points forming the upper contour, both corners included.
        ex, ey: the face's horizontal and downward unit vectors.

    Returns:
        (K, 2) contour where crossing points of both contours meet half-way.
    """
    pts = pts.astype(np.float64).copy()
    upper = pts[:n_upper]
    lower = np.vstack([pts[:1], pts[n_upper:][::-1], pts[n_upper - 1 : n_upper]])
    uu, uv = upper @ ex, upper @ ey
    lu, lv = lower @ ex, lower @ ey
    ou, ol = np.argsort(uu), np.argsort(lu)
    upper_at_lower = np.interp(lu, uu[ou], uv[ou])
    lower_at_upper = np.interp(uu, lu[ol], lv[ol])
    new_uv = np.where(uv > lower_at_upper, 0.5 * (uv + lower_at_upper), uv)
    new_lv = np.where(lv < upper_at_lower, 0.5 * (lv + upper_at_lower), lv)
    upper += (new_uv - uv)[:, None] * ey
    lower += (new_lv - lv)[:, None] * ey
    pts[:n_upper] = upper
    pts[n_upper:] = lower[1:-1][::-1]
    return pts


def _axes(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = lm[LM.EYE_OUTER_L, :2] - lm[LM.EYE_OUTER_R, :2]
    ex = d / max(float(np.hypot(d[0], d[1])), 1e-9)
    return ex, np.array([-ex[1], ex[0]])


def _remap(img: np.ndarray, pm: np.ndarray) -> np.ndarray:
    return cv2.remap(img, pm[..., 0], pm[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _box(pts: np.ndarray, pad: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0, y0 = max(int(pts[:, 0].min() - pad), 0), max(int(pts[:, 1].min() - pad), 0)
    x1, y1 = min(int(pts[:, 0].max() + pad) + 2, w), min(int(pts[:, 1].max() + pad) + 2, h)
    return x0, y0, x1, y1


def _poly_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a polygon, (h, w) float32 in [0, 1]."""
    mask = np.zeros(shape, np.uint8)
    fixed = np.round(pts * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 255, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0


def _keep_visible(photo: np.ndarray, synth: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """The photo where ``vis`` (weight 1 inside the visible opening, fading over ~2 px), ``synth`` elsewhere."""
    grown = cv2.GaussianBlur(cv2.dilate(vis, np.ones((3, 3), np.uint8)), (0, 0), 0.8)
    alpha = np.maximum(vis, grown)[..., None]
    return (alpha * photo + (1.0 - alpha) * synth).astype(np.float32)


def _eyeball(
    image: np.ndarray, poly: np.ndarray, iris_c: np.ndarray, iris_r: float, box: tuple[int, int, int, int]
) -> np.ndarray:
    """The eyeball layer: the visible eye, with sclera, iris and pupil painted where the lids hide it."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1].astype(np.float32)
    vis = _poly_mask((y1 - y0, x1 - x0), poly - [x0, y0])
    yy, xx = np.mgrid[y0:y1, x0:x1]
    dist = np.hypot(xx - iris_c[0], yy - iris_c[1])
    inside = vis > 0.9
    lum = region.mean(-1)
    sel = inside & (dist > 1.15 * iris_r)
    if sel.sum() >= 4:
        sclera = np.median(region[sel & (lum >= np.percentile(lum[sel], 70))], 0)
    else:
        sclera = np.array([190.0, 180.0, 175.0])
    sel = inside & (dist < 0.8 * iris_r)
    iris = np.median(region[sel], 0) if sel.sum() >= 4 else np.array([80.0, 60.0, 45.0])
    synth = np.empty_like(region)
    synth[:] = sclera
    t = np.clip(iris_r + 0.5 - dist, 0.0, 1.0)[..., None]  # anti-aliased disc
    synth = synth * (1 - t) + iris * t
    synth *= 1.0 - 0.35 * np.exp(-0.5 * ((dist - 0.95 * iris_r) / 0.7) ** 2)[..., None]  # limbal ring
    pupil = np.clip(0.4 * iris_r + 0.5 - dist, 0.0, 1.0)[..., None]
    synth = synth * (1 - pupil) + np.array([15.0, 12.0, 12.0]) * pupil
    synth = cv2.GaussianBlur(synth.astype(np.float32), (0, 0), 0.6)
    return _keep_visible(region, synth, vis)


def _mouth(
    image: np.ndarray, lm: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The mouth layers (upper half, lower half): the visible interior on a dark mouth."""
    x0, y0, x1, y1 = box
    poly = lm[list(MOUTH_OPENING)]
    region = image[y0:y1, x0:x1].astype(np.float32)
    vis = _poly_mask((y1 - y0, x1 - x0), poly - [x0, y0])
    yy, xx = np.mgrid[y0:y1, x0:x1]
    c = poly.mean(0)
    half_w = max(0.5 * float(np.ptp(poly[:, 0])), 1.0)
    # darkest in the middle, a little lighter toward the corners (lip shadow, tongue)
    r = np.clip(np.hypot((xx - c[0]) / half_w, (yy - c[1]) / (0.6 * half_w)), 0.0, 1.0)[..., None]
    synth = (np.array([28.0, 12.0, 14.0]) * (1 - r) + np.array([70.0, 35.0, 35.0]) * r).astype(np.float32)
    ex, ey = _axes(lm)
    n = 11
    upper, lower = poly[:n], np.vstack([poly[:1], poly[n:][::-1], poly[n - 1 : n]])
    u = np.stack([xx, yy], -1) @ ex
    v = np.stack([xx, yy], -1) @ ey
    mid = 0.5 * (_interp_along(u, upper, ex, ey) + _interp_along(u, lower, ex, ey))
    top = (v < mid).astype(np.float32)
    layers = []
    for half in (top, 1.0 - top):
        layers.append(_keep_visible(region, synth, vis * half))
    return layers[0], layers[1]


def _interp_along(u: np.ndarray, contour: np.ndarray, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    cu, cv = contour @ ex, contour @ ey
    order = np.argsort(cu)
    return np.interp(u, cu[order], cv[order])


def close_eye(
    out: np.ndarray,
    op: Opening,
    *,
    neutral: np.ndarray,
    au_only: np.ndarray,
    moved: np.ndarray,
    head_only: np.ndarray,
    iod_px: float,
) -> None:
    """Paint a closing eye as lid skin with a lash line at its lower edge, in place.

    The warp alone leaves slivers of the eye under the lash line (the lower lid's landmarks sit a little
    inside the visible eye); from :data:`CLOSING_FROM` of the eye's height covered on, the whole eye region
    fades to a closed lid.

    Args:
        out: (H, W, 3) uint8 frame being rendered.
        op: an eye opening (with ``lid_rgb``).
        neutral: (478, 2) neutral landmarks; au_only: moved by the AUs; moved: by the AUs and the head;
            head_only: neutral landmarks moved by the head alone (all cv2 pixel coordinates).
        iod_px: inter-ocular distance in pixels.
    """
    if op.lid_rgb is None or op.lash_rgb is None:
        return
    idx = list(op.indices)
    ex, ey = _axes(neutral)
    mid = [2, 3, 4, 5, 6]  # upper contour points over the middle of the eye
    n = op.n_upper
    lower_of = {k: len(idx) - k for k in mid}  # contour positions pair up: upper k <-> lower len-k

    def height(pts: np.ndarray) -> float:
        pts = clamp_opening(pts, n, ex, ey)
        return float(np.mean([(pts[lower_of[k]] - pts[k]) @ ey for k in mid]))

    h0 = height(neutral[idx])
    if h0 <= 0.5:
        return
    covered = 1.0 - height(au_only[idx]) / h0
    c = float(np.clip((covered - CLOSING_FROM) / (1.0 - CLOSING_FROM), 0.0, 1.0))
    if c <= 0.0:
        return
    c = c * c * (3.0 - 2.0 * c)
    region = head_only[idx]
    pts_now = clamp_opening(moved[idx], n, *_axes(moved))
    pad = int(math.ceil(0.06 * iod_px)) + 3
    allp = np.vstack([region, pts_now])
    h, w = out.shape[:2]
    x0, y0 = max(int(allp[:, 0].min()) - pad, 0), max(int(allp[:, 1].min()) - pad, 0)
    x1, y1 = min(int(allp[:, 0].max()) + pad + 1, w), min(int(allp[:, 1].max()) + pad + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    grow = max(3, int(round(0.03 * iod_px)) * 2 + 1)
    mask = _poly_mask((y1 - y0, x1 - x0), region - [x0, y0])
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    reg = out[y0:y1, x0:x1].astype(np.float32)
    # the closed lid takes the colour of the skin around it in this frame (the brighter half of a ring)
    ring = (cv2.dilate(mask, np.ones((5, 5), np.uint8), iterations=2) > 0.5) & (mask < 0.05)
    skin = reg[ring] if ring.sum() >= 8 else reg.reshape(-1, 3)
    lum = skin.mean(1)
    lid_rgb = np.median(skin[lum >= np.median(lum)], 0)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2)
    lash_pts = pts_now[:n] - [x0, y0]
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - y0
    bottom = float(lash_pts[:, 1].max())
    # a little darker toward the lash line, where the lid curves away
    shade = np.clip(1.0 - 0.10 * np.exp(-0.5 * ((yy - bottom) / (0.03 * iod_px)) ** 2), 0.0, 1.0)
    lid = np.broadcast_to((lid_rgb[None, None, :] * shade[..., None]).astype(np.float32), reg.shape)
    a = (c * mask)[..., None]
    reg = reg + a * (lid - reg)
    lash = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = np.round(lash_pts * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    thick = max(1, int(round(0.015 * iod_px)))
    cv2.polylines(lash, [fixed], False, 255, thickness=thick, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    la = (0.85 * c * lash.astype(np.float32) / 255.0)[..., None]
    reg = reg + la * (op.lash_rgb - reg)
    out[y0:y1, x0:x1] = np.clip(reg + 0.5, 0, 255).astype(np.uint8)


def _lid_colours(image: np.ndarray, upper: np.ndarray, fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lid skin colour, lash colour) of one eye from the band between the lid margin and the lid fold."""
    h, w = image.shape[:2]
    poly = np.vstack([upper, fold[::-1]])
    x0, y0 = max(int(poly[:, 0].min()) - 2, 0), max(int(poly[:, 1].min()) - 2, 0)
    x1, y1 = min(int(poly[:, 0].max()) + 3, w), min(int(poly[:, 1].max()) + 3, h)
    region = image[y0:y1, x0:x1].astype(np.float32)
    band = _poly_mask((y1 - y0, x1 - x0), poly - [x0, y0]) > 0.5
    px = region[band] if band.sum() >= 4 else region.reshape(-1, 3)
    lum = px.mean(1)
    lid = np.median(px[lum >= np.percentile(lum, 40)], 0)
    lash = np.median(px[lum <= np.percentile(lum, 15)], 0)
    return lid.astype(np.float32), (0.85 * lash).astype(np.float32)
