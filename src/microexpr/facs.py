"""FACS catalogue: the Action Units we measure, MediaPipe's blendshapes, and the landmark groups both use.

Landmark indices are MediaPipe Face Mesh indices (478 points, the last 10 are the irises). "R" and "L" are
the subject's right and left: the subject's right eye appears on the left of an unmirrored image.
"""

from __future__ import annotations

from dataclasses import dataclass

BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)
BLENDSHAPE_INDEX: dict[str, int] = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}


@dataclass(frozen=True)
class ActionUnit:
    """One FACS Action Unit.

    Attributes:
        code: "AU01" ... (OpenFace's column stem).
        name: FACS name.
        muscle: the muscle(s) behind it.
        region: "brow", "eye", "nose", "mouth", "jaw".
    """

    code: str
    name: str
    muscle: str
    region: str


ACTION_UNITS: tuple[ActionUnit, ...] = (
    ActionUnit("AU01", "Inner brow raiser", "frontalis, pars medialis", "brow"),
    ActionUnit("AU02", "Outer brow raiser", "frontalis, pars lateralis", "brow"),
    ActionUnit("AU04", "Brow lowerer", "corrugator supercilii, depressor supercilii, procerus", "brow"),
    ActionUnit("AU05", "Upper lid raiser", "levator palpebrae superioris", "eye"),
    ActionUnit("AU06", "Cheek raiser", "orbicularis oculi, pars orbitalis", "eye"),
    ActionUnit("AU07", "Lid tightener", "orbicularis oculi, pars palpebralis", "eye"),
    ActionUnit("AU09", "Nose wrinkler", "levator labii superioris alaeque nasi", "nose"),
    ActionUnit("AU10", "Upper lip raiser", "levator labii superioris", "mouth"),
    ActionUnit("AU12", "Lip corner puller", "zygomaticus major", "mouth"),
    ActionUnit("AU14", "Dimpler", "buccinator", "mouth"),
    ActionUnit("AU15", "Lip corner depressor", "depressor anguli oris", "mouth"),
    ActionUnit("AU17", "Chin raiser", "mentalis", "mouth"),
    ActionUnit("AU20", "Lip stretcher", "risorius with platysma", "mouth"),
    ActionUnit("AU23", "Lip tightener", "orbicularis oris", "mouth"),
    ActionUnit("AU25", "Lips part", "depressor labii inferioris, relaxed mentalis", "mouth"),
    ActionUnit("AU26", "Jaw drop", "masseter relaxed; temporalis, internal pterygoid relaxed", "jaw"),
    ActionUnit("AU45", "Blink", "relaxed levator palpebrae; orbicularis oculi, pars palpebralis", "eye"),
)
AU_CODES: tuple[str, ...] = tuple(a.code for a in ACTION_UNITS)
AU_BY_CODE: dict[str, ActionUnit] = {a.code: a for a in ACTION_UNITS}


class LM:
    """Named MediaPipe Face Mesh landmark indices (R/L = subject's right/left)."""

    # eyes
    EYE_OUTER_R, EYE_INNER_R, EYE_UPPER_R, EYE_LOWER_R = 33, 133, 159, 145
    EYE_OUTER_L, EYE_INNER_L, EYE_UPPER_L, EYE_LOWER_L = 263, 362, 386, 374
    EYE_UPPER_R_ALL = (157, 158, 159, 160, 161)
    EYE_LOWER_R_ALL = (144, 145, 153, 154, 163)
    EYE_UPPER_L_ALL = (384, 385, 386, 387, 388)
    EYE_LOWER_L_ALL = (373, 374, 380, 381, 390)
    # irises: centre then four rim points
    IRIS_R = (468, 469, 470, 471, 472)
    IRIS_L = (473, 474, 475, 476, 477)
    # brows (upper and lower contour points, inner to outer)
    BROW_INNER_R, BROW_INNER_L = (107, 55, 65), (336, 285, 295)
    BROW_MID_R, BROW_MID_L = (105, 66, 52), (334, 296, 282)
    BROW_OUTER_R, BROW_OUTER_L = (70, 46, 63, 53), (300, 276, 293, 283)
    # nose
    NOSE_TIP, SUBNASALE = 1, 2
    NOSE_BRIDGE = (168, 6, 197, 195)
    NOSE_ALA_R, NOSE_ALA_L = (129, 64, 98, 48), (358, 294, 327, 278)
    # cheeks (over the zygomatic / infraorbital region)
    CHEEK_R, CHEEK_L = (50, 101, 118, 117, 205), (280, 330, 347, 346, 425)
    # mouth
    MOUTH_CORNER_R, MOUTH_CORNER_L = 61, 291
    MOUTH_CORNER_R_ALL, MOUTH_CORNER_L_ALL = (61, 76, 62, 78, 146, 185), (291, 306, 292, 308, 375, 409)
    UPPER_LIP_TOP, UPPER_LIP_INNER, LOWER_LIP_INNER, LOWER_LIP_BOTTOM = 0, 13, 14, 17
    UPPER_LIP_TOP_ALL = (0, 37, 267, 39, 269, 40, 270)
    UPPER_LIP_INNER_ALL = (13, 82, 312, 81, 311)
    LOWER_LIP_INNER_ALL = (14, 87, 317, 178, 402)
    LOWER_LIP_BOTTOM_ALL = (17, 84, 314, 181, 405)
    # chin and jaw
    CHIN = 152
    CHIN_ALL = (152, 148, 377, 175, 199, 200)
    # points that do not move with any facial action: used for rigid alignment (head motion removal)
    STABLE = (10, 168, 6, 197, 195, 133, 362, 234, 454, 127, 356, 93, 323)
