"""How each Action Unit moves the face: landmark groups, directions and distances, after FACS appearance changes.

Distances are in units of the inter-ocular distance (IOD, landmarks 33-263) at intensity 5 (FACS "E"); a
movement is linear in intensity. Directions are in the face's own frame: "up" is toward the forehead along
the face's vertical axis (image -y for an upright face), "lateral" is away from the face's midline, mirrored
per side. "R" and "L" are the subject's right and left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microexpr.facs import AU_CODES, LM

MAX_INTENSITY = 5.0


@dataclass(frozen=True)
class Group:
    """Landmark indices of one facial feature, split by side (mirror order: right[i] pairs left[i])."""

    right: tuple[int, ...] = ()
    left: tuple[int, ...] = ()
    mid: tuple[int, ...] = ()

    @property
    def all(self) -> tuple[int, ...]:
        return self.right + self.left + self.mid


# Eye contours run from the outer corner to the inner corner, so that the upper and lower lids pair up.
_EYE_UPPER_R = (246, 161, 160, 159, 158, 157, 173)
_EYE_LOWER_R = (7, 163, 144, 145, 153, 154, 155)
_EYE_UPPER_L = (466, 388, 387, 386, 385, 384, 398)
_EYE_LOWER_L = (249, 390, 373, 374, 380, 381, 382)

GROUPS: dict[str, Group] = {
    # brows, by columns of (upper, lower) contour points: the head, the next column, the middle, the tail
    "BROW_INNER": Group((107, 55), (336, 285)),
    "BROW_INNER2": Group((66, 65), (296, 295)),
    "BROW_MID": Group((105, 52), (334, 282)),
    "BROW_OUTER": Group((70, 46, 63, 53), (300, 276, 293, 283)),
    "GLABELLA": Group(mid=(9, 8)),
    # eyes: lid margins, the skin fold above the upper lid, the skin below the lower lid
    "EYE_CORNERS": Group((33, 133), (263, 362)),
    "UPPER_LID": Group(_EYE_UPPER_R, _EYE_UPPER_L),
    "UPPER_LID_CENTRE": Group((160, 159, 158), (387, 386, 385)),
    "LOWER_LID": Group(_EYE_LOWER_R, _EYE_LOWER_L),
    "BROW_UNDER": Group((113, 225, 224, 223, 222, 221, 189), (342, 445, 444, 443, 442, 441, 413)),
    "LID_FOLD": Group((247, 30, 29, 27, 28, 56, 190), (467, 260, 259, 257, 258, 286, 414)),
    "LOWER_LID_SKIN": Group(
        (130, 25, 110, 24, 23, 22, 26, 112, 243), (359, 255, 339, 254, 253, 252, 256, 341, 463)
    ),
    "UNDER_EYE": Group((226, 31, 228, 229, 230, 231, 232, 233), (446, 261, 448, 449, 450, 451, 452, 453)),
    "EYE_OUTER_CORNER": Group((33, 130), (263, 359)),
    "IRIS": Group(LM.IRIS_R, LM.IRIS_L),
    # nose
    "NOSE_ALA": Group(LM.NOSE_ALA_R + (102, 49), LM.NOSE_ALA_L + (331, 279)),
    "NOSE_SIDE": Group((217, 198, 209), (437, 420, 429)),
    "NOSE_BRIDGE": Group(mid=(168, 6, 197, 195)),
    "NOSE_TIP": Group(mid=(1, 4, 5, 19, 94, 2)),
    # cheeks
    "CHEEK": Group(LM.CHEEK_R, LM.CHEEK_L),
    # mouth
    "MOUTH_CORNER": Group(LM.MOUTH_CORNER_R_ALL, LM.MOUTH_CORNER_L_ALL),
    "UPPER_LIP_TOP": Group((37, 39, 40), (267, 269, 270), (0,)),
    "UPPER_LIP_INNER": Group((82, 81, 80, 191), (312, 311, 310, 415), (13,)),
    "LOWER_LIP_INNER": Group((87, 178, 88, 95), (317, 402, 318, 324), (14,)),
    "LOWER_LIP_BOTTOM": Group((84, 181, 91), (314, 405, 321), (17,)),
    "PHILTRUM": Group((167, 165, 92), (393, 391, 322)),
    "BELOW_LOWER_LIP": Group((83, 182, 106, 43), (313, 406, 335, 273), (18,)),
    # chin and jaw (graded: the chin moves most, the jaw angle least)
    "CHIN": Group(
        (148, 171, 208, 32, 201, 194), (377, 396, 428, 262, 421, 418), LM.CHIN_ALL[0:1] + (175, 199, 200)
    ),
    "JAW_LOW": Group((176, 149, 140, 170), (400, 378, 369, 395)),
    "JAW_MID": Group((150, 136, 211, 169), (379, 365, 431, 394)),
    "JAW_ANGLE": Group((172, 58, 135), (397, 288, 364)),
    # never moved by an Action Unit (the warp stays local)
    "FACE_OVAL_UPPER": Group((21, 162, 127, 234, 93, 132), (251, 389, 356, 454, 323, 361)),
    "HAIRLINE": Group((109, 67, 103, 54), (338, 297, 332, 284), (10,)),
}

# The eye and mouth openings, as closed polygons (see Renderer): what lies inside shows the eyeball or
# the mouth interior, which AUs do not stretch.
EYE_OPENING_R: tuple[int, ...] = (33,) + _EYE_UPPER_R + (133,) + _EYE_LOWER_R[::-1]
EYE_OPENING_L: tuple[int, ...] = (263,) + _EYE_UPPER_L + (362,) + _EYE_LOWER_L[::-1]
# fmt: off
MOUTH_OPENING: tuple[int, ...] = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)
# fmt: on


@dataclass(frozen=True)
class Move:
    """One group's movement at intensity 5.

    Attributes:
        group: a key of :data:`GROUPS`.
        up: distance toward the forehead in IOD units (negative: down).
        lateral: distance away from the midline in IOD units (negative: toward it). Zero for midline points.
        meet: a group whose points (pairwise, same order) this group moves toward; then ``fraction`` is the
            share of the gap closed at intensity 5 (1.0 = the points meet), and ``up``/``lateral`` add to it.
        fraction: see ``meet``.
        profile: per-point factors along the group (same order as its indices), e.g. a lid moving most in
            the middle and little at the corners; None for 1 everywhere.
    """

    group: str
    up: float = 0.0
    lateral: float = 0.0
    meet: str | None = None
    fraction: float = 0.0
    profile: tuple[float, ...] | None = None


@dataclass(frozen=True)
class AUMotion:
    """How one Action Unit moves the face.

    Attributes:
        moves: the groups that move and how far.
        hold: groups held still (besides the face outline above the jaw, the hairline and the irises).
        reach_iod: landmarks within this distance (IOD units) of a moving one, neither moving nor held,
            follow the smooth interpolation; farther ones are held still, so that the movement stays local.
        shade: optional darkening spots after the warp, each (landmark, up, lateral, width, height,
            strength): centre relative to a (moved) landmark in IOD units, Gaussian radii across and along
            the face's vertical axis in IOD units, and the share of brightness removed at intensity 5
            (a dimple, a furrow).
        tear: groups along which the face opens (the inner lip contour that stays): the smooth warp
            cannot tear closed lips apart, so these landmarks are left out of the interpolation (the warp
            stretches across them) while their own target still bounds the painted opening.
    """

    moves: tuple[Move, ...]
    hold: tuple[str, ...] = ()
    reach_iod: float = 0.25
    shade: tuple[tuple[int, float, float, float, float, float], ...] = ()
    tear: tuple[str, ...] = ()


_EYES = ("UPPER_LID", "LOWER_LID", "EYE_CORNERS")
# lids and the skin rings around them move most in the middle of the eye and little at its corners
_LID = (0.45, 0.75, 0.95, 1.0, 0.95, 0.75, 0.45)
_RING = (0.25, 0.55, 0.8, 0.95, 1.0, 0.95, 0.8, 0.55, 0.25)
# lip contours (listed from the middle toward the corners) move most in the middle of the mouth
_LIP3 = (1.0, 0.8, 0.5)
_LIP4 = (1.0, 0.85, 0.6, 0.35)
_LIPS = ("UPPER_LIP_INNER", "LOWER_LIP_INNER")
_BROWS = ("BROW_INNER", "BROW_INNER2", "BROW_MID", "BROW_OUTER")

AU_MOTIONS: dict[str, AUMotion] = {
    "AU01": AUMotion(
        (
            Move("BROW_INNER", up=0.12, lateral=-0.01),
            Move("BROW_INNER2", up=0.09),
            Move("BROW_MID", up=0.05),
            Move("GLABELLA", up=0.03),
        ),
        hold=_EYES,
        reach_iod=0.30,
    ),
    "AU02": AUMotion(
        (Move("BROW_OUTER", up=0.12), Move("BROW_MID", up=0.06), Move("BROW_INNER2", up=0.02)),
        hold=_EYES,
        reach_iod=0.30,
    ),
    "AU04": AUMotion(
        (
            Move("BROW_INNER", up=-0.08, lateral=-0.06),
            Move("BROW_INNER2", up=-0.07, lateral=-0.04),
            Move("BROW_MID", up=-0.05, lateral=-0.02),
            Move("GLABELLA", up=-0.02),
        ),
        hold=_EYES,
        reach_iod=0.30,
        # the vertical furrows between the brows
        shade=((107, -0.03, -0.035, 0.012, 0.06, 0.22), (55, -0.02, -0.06, 0.01, 0.045, 0.15)),
    ),
    "AU05": AUMotion(
        (Move("UPPER_LID", up=0.05, profile=_LID), Move("LID_FOLD", up=0.03, profile=_LID)),
        hold=("LOWER_LID", "EYE_CORNERS") + _BROWS,
        reach_iod=0.15,
    ),
    "AU06": AUMotion(
        (
            Move("CHEEK", up=0.08),
            Move("UNDER_EYE", up=0.05, profile=_RING),
            Move("LOWER_LID_SKIN", up=0.04, profile=_RING),
            Move("LOWER_LID", up=0.03, profile=_LID),
            Move("EYE_OUTER_CORNER", up=0.01),
        ),
        hold=("UPPER_LID", "LID_FOLD", "MOUTH_CORNER") + _BROWS,
        reach_iod=0.30,
    ),
    "AU07": AUMotion(
        (
            Move("LOWER_LID", up=0.05, profile=_LID),
            Move("LOWER_LID_SKIN", up=0.03, profile=_RING),
            Move("UPPER_LID", up=-0.01, profile=_LID),
        ),
        hold=("EYE_CORNERS", "LID_FOLD", "CHEEK") + _BROWS,
        reach_iod=0.15,
    ),
    "AU09": AUMotion(
        (
            Move("NOSE_ALA", up=0.06),
            Move("NOSE_SIDE", up=0.04),
            Move("UPPER_LIP_TOP", up=0.03),
            Move("PHILTRUM", up=0.03),
            Move("BROW_INNER", up=-0.03),
            Move("BROW_INNER2", up=-0.02),
            Move("GLABELLA", up=-0.02),
        ),
        hold=_EYES + ("NOSE_BRIDGE", "MOUTH_CORNER", "LOWER_LIP_BOTTOM", "BROW_OUTER"),
        reach_iod=0.25,
        # wrinkles across the root of the nose
        shade=((168, 0.0, 0.0, 0.07, 0.012, 0.18), (6, 0.0, 0.0, 0.06, 0.012, 0.15)),
    ),
    "AU10": AUMotion(
        (
            Move("UPPER_LIP_TOP", up=0.07, profile=_LIP3),
            Move("UPPER_LIP_INNER", up=0.05, profile=_LIP4),
            Move("PHILTRUM", up=0.04),
            Move("NOSE_ALA", up=0.02),
        ),
        hold=("LOWER_LIP_INNER", "LOWER_LIP_BOTTOM", "NOSE_TIP", "EYE_CORNERS"),
        reach_iod=0.25,
        tear=("LOWER_LIP_INNER",),
    ),
    "AU12": AUMotion(
        (Move("MOUTH_CORNER", up=0.10, lateral=0.06), Move("CHEEK", up=0.02)),
        hold=_EYES + ("NOSE_ALA", "NOSE_TIP"),
        reach_iod=0.30,
    ),
    "AU14": AUMotion(
        (Move("MOUTH_CORNER", up=0.01, lateral=0.05),),
        hold=_EYES + ("NOSE_ALA", "NOSE_TIP"),
        reach_iod=0.25,
        shade=((61, 0.0, 0.07, 0.025, 0.04, 0.2), (291, 0.0, 0.07, 0.025, 0.04, 0.2)),  # the dimples
    ),
    "AU15": AUMotion(
        (Move("MOUTH_CORNER", up=-0.08, lateral=0.01),),
        hold=_EYES + ("NOSE_ALA", "NOSE_TIP"),
        reach_iod=0.30,
    ),
    "AU17": AUMotion(
        (
            Move("CHIN", up=0.06),
            Move("BELOW_LOWER_LIP", up=0.05, profile=_LIP4),
            Move("LOWER_LIP_BOTTOM", up=0.05, profile=_LIP3),
        ),
        hold=("UPPER_LIP_TOP", "MOUTH_CORNER", "JAW_MID", "JAW_ANGLE"),
        reach_iod=0.25,
    ),
    "AU20": AUMotion(
        (Move("MOUTH_CORNER", up=-0.02, lateral=0.10), Move("LOWER_LIP_BOTTOM", up=-0.01)),
        hold=_EYES + ("NOSE_ALA", "NOSE_TIP"),
        reach_iod=0.30,
    ),
    "AU23": AUMotion(
        (
            Move("UPPER_LIP_TOP", up=-0.03, profile=_LIP3),
            Move("LOWER_LIP_BOTTOM", up=0.03, profile=_LIP3),
            Move("MOUTH_CORNER", lateral=-0.02),
        ),
        hold=_LIPS + ("NOSE_TIP",),
        reach_iod=0.20,
    ),
    "AU25": AUMotion(
        (
            Move("UPPER_LIP_INNER", up=0.02, profile=_LIP4),
            Move("LOWER_LIP_INNER", up=-0.06, profile=_LIP4),
            Move("LOWER_LIP_BOTTOM", up=-0.04, profile=_LIP3),
        ),
        hold=("MOUTH_CORNER", "UPPER_LIP_TOP", "NOSE_TIP"),
        reach_iod=0.20,
        tear=("UPPER_LIP_INNER",),
    ),
    "AU26": AUMotion(
        (
            Move("CHIN", up=-0.15),
            Move("BELOW_LOWER_LIP", up=-0.14, profile=_LIP4),
            Move("LOWER_LIP_BOTTOM", up=-0.14, profile=_LIP3),
            Move("LOWER_LIP_INNER", up=-0.13, profile=_LIP4),
            Move("JAW_LOW", up=-0.11),
            Move("JAW_MID", up=-0.06),
            Move("JAW_ANGLE", up=-0.02),
            Move("MOUTH_CORNER", up=-0.03),
        ),
        hold=("UPPER_LIP_INNER", "UPPER_LIP_TOP", "NOSE_TIP", "CHEEK"),
        reach_iod=0.40,
        tear=("UPPER_LIP_INNER",),
    ),
    "AU45": AUMotion(
        (Move("UPPER_LID", meet="LOWER_LID", fraction=1.0), Move("LID_FOLD", up=-0.05, profile=_LID)),
        hold=("LOWER_LID", "EYE_CORNERS", "LOWER_LID_SKIN") + _BROWS,
        reach_iod=0.15,
    ),
}
assert set(AU_MOTIONS) == set(AU_CODES), "every catalogued AU needs a motion"

# held still by every AU unless it moves them: the face outline above the jaw, the hairline, the irises
_ALWAYS_HELD = ("FACE_OVAL_UPPER", "HAIRLINE", "IRIS")


def face_axes(landmarks_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The face's own image axes.

    Args:
        landmarks_px: (478, 2+) landmarks in pixels.

    Returns:
        ``(ex, ey, iod_px)``: unit vector from the subject's right eye to the left (image right for an upright
        face), unit vector toward the chin (image down), and the inter-ocular distance in pixels.
    """
    d = np.asarray(landmarks_px[LM.EYE_OUTER_L, :2] - landmarks_px[LM.EYE_OUTER_R, :2], np.float64)
    iod = float(np.hypot(d[0], d[1]))
    ex = d / iod
    ey = np.array([-ex[1], ex[0]])
    return ex, ey, iod


@dataclass(frozen=True)
class Constraints:
    """One AU's landmark constraints at intensity 1, for a given face.

    Attributes:
        nodes: (K,) indices of the landmarks whose displacement is fixed (moving, held, or out of reach).
        disp_px: (K, 2) their displacement in pixels per unit intensity (0 for held ones).
        free: (F,) indices of the landmarks that follow the interpolation (within reach, not held).
        moving: (K,) bool, True for the nodes that move.
        torn: (T,) indices of landmarks left out of the interpolation (see ``AUMotion.tear``).
        torn_disp_px: (T, 2) their own displacement in pixels per unit intensity.
    """

    nodes: np.ndarray
    disp_px: np.ndarray
    free: np.ndarray
    moving: np.ndarray
    torn: np.ndarray
    torn_disp_px: np.ndarray


def au_constraints(code: str, landmarks_px: np.ndarray, *, motion: AUMotion | None = None) -> Constraints:
    """The landmark constraints of one AU for one face.

    Args:
        code: AU code ("AU12").
        landmarks_px: (478, 2+) neutral landmarks in pixels.
        motion: override the table entry.

    Returns:
        The fixed landmarks with their displacement per unit intensity, and the free ones. The irises are
        neither (the eyeball does not move with an AU).
    """
    m = AU_MOTIONS[code] if motion is None else motion
    lm = np.asarray(landmarks_px, np.float64)[:, :2]
    ex, ey, iod = face_axes(lm)
    n = lm.shape[0]
    disp = np.zeros((n, 2))
    moved = np.zeros(n, bool)
    for mv in m.moves:
        g = GROUPS[mv.group]
        for idx, side in ((g.right, -1.0), (g.left, 1.0), (g.mid, 0.0)):
            if not idx:
                continue
            ii = np.asarray(idx)
            d = (-mv.up * ey + side * mv.lateral * ex) * iod
            dd = np.broadcast_to(d, (len(ii), 2)).copy()
            if mv.profile is not None:
                dd *= np.asarray(mv.profile[: len(ii)], np.float64)[:, None]
            if mv.meet is not None:
                target = _meet_targets(lm, idx, GROUPS[mv.meet], side)
                dd += mv.fraction * (target - lm[ii])
            disp[ii] += dd / MAX_INTENSITY
            moved[ii] = True
    iris = np.zeros(n, bool)
    iris[list(GROUPS["IRIS"].all)] = True
    held = np.zeros(n, bool)
    for name in m.hold + _ALWAYS_HELD:
        held[list(GROUPS[name].all)] = True
    held &= ~moved & ~iris
    if moved.any():
        d2 = ((lm[:, None, :] - lm[moved][None, :, :]) ** 2).sum(-1).min(1)
        held |= (d2 > (m.reach_iod * iod) ** 2) & ~moved & ~iris
    torn = np.zeros(n, bool)
    for name in m.tear:
        torn[list(GROUPS[name].all)] = True
    nodes = np.flatnonzero((moved | held) & ~torn)
    free = np.flatnonzero(~moved & ~held & ~iris & ~torn)
    return Constraints(nodes, disp[nodes], free, moved[nodes], np.flatnonzero(torn), disp[torn])


def _meet_targets(lm: np.ndarray, idx: tuple[int, ...], other: Group, side: float) -> np.ndarray:
    """Where each point of ``idx`` meets the contour ``other`` (same side): the contour point at the same
    position along the face's horizontal axis."""
    ex, _, _ = face_axes(lm)
    contour = other.right if side < 0 else other.left if side > 0 else other.mid
    c = lm[list(contour)]
    u = c @ ex
    order = np.argsort(u)
    u, c = u[order], c[order]
    q = lm[list(idx)] @ ex
    x = np.interp(q, u, c[:, 0])
    y = np.interp(q, u, c[:, 1])
    return np.stack([x, y], 1)
