"""Face photos for the renderer: a user's photo, or a real face shipped inside a dependency, with landmarks.

The landmarks are detected once, with the real Face Landmarker in image mode, and kept with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from microexpr.errors import InputError, OptionError
from microexpr.facs import LM
from microexpr.types import N_LANDMARKS

SAMPLE_FACES: tuple[str, ...] = ("astronaut", "hopper")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (arrays inside)
class FacePhoto:
    """A still photo of one face and its detected landmarks.

    Attributes:
        image: (H, W, 3) uint8 RGB, read-only.
        landmarks_px: (478, 3) float32, read-only; x, y in pixels, z in pixels on the x scale (MediaPipe's
            convention: smaller z is nearer the camera).
    """

    image: np.ndarray
    landmarks_px: np.ndarray

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            got = getattr(img, "shape", type(img).__name__), getattr(img, "dtype", "")
            raise ValueError(f"image must be a uint8 np.ndarray with shape (_, _, 3), but got {got}")
        lm = self.landmarks_px
        if not isinstance(lm, np.ndarray) or lm.shape != (N_LANDMARKS, 3):
            got = getattr(lm, "shape", type(lm).__name__)
            raise ValueError(
                f"landmarks_px must be a np.ndarray with shape ({N_LANDMARKS}, 3), but got {got}"
            )
        img = np.array(img, np.uint8, copy=True)
        img.setflags(write=False)
        lm = np.array(lm, np.float32, copy=True)
        lm.setflags(write=False)
        object.__setattr__(self, "image", img)
        object.__setattr__(self, "landmarks_px", lm)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def iod_px(self) -> float:
        """Inter-ocular distance: outer eye corner to outer eye corner (landmarks 33-263), in pixels."""
        d = self.landmarks_px[LM.EYE_OUTER_L, :2] - self.landmarks_px[LM.EYE_OUTER_R, :2]
        return float(np.hypot(d[0], d[1]))


def face_photo(image: np.ndarray) -> FacePhoto:
    """Detect the face in a photo and keep its landmarks for rendering.

    Args:
        image: (H, W, 3) uint8 RGB photo of one face, frontal, eyes open, lips together or slightly apart.

    Returns:
        The photo with its 478 landmarks (the largest face if there are several).

    Raises:
        InputError: the image is not (H, W, 3) uint8, or no face was found in it.
    """
    from microexpr.track.landmarker import detect_image

    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = getattr(image, "shape", type(image).__name__), getattr(image, "dtype", "")
        raise InputError(f"photo must be a uint8 RGB array with shape (H, W, 3), but got {got}")
    faces = detect_image(np.ascontiguousarray(image), max_faces=4)
    if not faces:
        h, w = image.shape[:2]
        raise InputError(
            f"no face found in the {w}x{h} photo: use a frontal, well-lit photo in which the face is at "
            "least about 100 pixels wide"
        )
    widths = [float(np.ptp(f.landmarks_px[:, 0])) for f in faces]
    return FacePhoto(np.ascontiguousarray(image), faces[int(np.argmax(widths))].landmarks_px)


def load_sample_image(name: str) -> np.ndarray:
    """The raw sample photo ``name`` (see :data:`SAMPLE_FACES`) as (H, W, 3) uint8 RGB.

    Raises:
        OptionError: unknown name.
        InputError: the package that ships the photo is not installed (``pip install microexpr[samples]``).
    """
    if name == "astronaut":
        try:
            import skimage.data
        except ImportError as e:
            raise InputError(
                "the 'astronaut' face needs scikit-image: pip install 'microexpr[samples]'"
            ) from e
        return np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    if name == "hopper":
        try:
            from matplotlib import cbook
        except ImportError as e:
            raise InputError("the 'hopper' face needs matplotlib: pip install 'microexpr[samples]'") from e
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB")).copy()
    raise OptionError(f"unknown sample face {name!r}; choose one of {', '.join(SAMPLE_FACES)}")


@lru_cache(maxsize=16)
def sample_face(
    name: str = "astronaut", *, size: tuple[int, int] = (640, 480), iod_px: float = 90.0
) -> FacePhoto:
    """A real face shipped inside a dependency, framed for rendering.

    The photo is scaled so that the inter-ocular distance (33-263) is about ``iod_px``, the face is centred in
    a frame of ``size``, and any area outside the original photo is filled with a blurred reflection. The
    landmarks are detected on the framed photo (real model, image mode); the result is cached.

    Args:
        name: "astronaut" (``skimage.data.astronaut()``) or "hopper" (matplotlib's ``grace_hopper.jpg``).
        size: (width, height) of the frame in pixels.
        iod_px: wanted inter-ocular distance in pixels (40 to 400).

    Returns:
        The framed photo and its landmarks.
    """
    import cv2

    w, h = int(size[0]), int(size[1])
    if w < 64 or h < 64:
        raise OptionError(f"size must be at least 64x64 pixels, but got {w}x{h}")
    if not 40.0 <= iod_px <= 400.0:
        raise OptionError(f"iod_px must be in [40, 400], but got {iod_px}")
    raw = load_sample_image(name)
    src = face_photo(raw)
    scale = iod_px / src.iod_px
    lm = src.landmarks_px[:, :2] * scale
    # centre of the face: midway between the brows and the chin, midway between the cheeks
    cx = 0.5 * (float(lm[:, 0].min()) + float(lm[:, 0].max()))
    cy = 0.5 * (float(lm[:, 1].min()) + float(lm[:, 1].max()))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    sw, sh = max(1, round(raw.shape[1] * scale)), max(1, round(raw.shape[0] * scale))
    scaled = cv2.resize(raw, (sw, sh), interpolation=interp)
    x0, y0 = round(cx - w / 2), round(cy - h / 2)  # top-left of the frame in scaled coordinates
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + w - sw), max(0, y0 + h - sh)
    if pad_l or pad_t or pad_r or pad_b:
        padded = cv2.copyMakeBorder(scaled, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REFLECT_101)
        inside = np.zeros(padded.shape[:2], np.float32)
        inside[pad_t : pad_t + sh, pad_l : pad_l + sw] = 1.0
        # a mirrored copy must never look like a second face: blur what lies outside the photo
        alpha = cv2.GaussianBlur(inside, (0, 0), 4.0)[..., None]
        blurred = cv2.GaussianBlur(padded, (0, 0), 12.0).astype(np.float32)
        padded = np.clip(alpha * padded + (1.0 - alpha) * blurred + 0.5, 0, 255).astype(np.uint8)
    else:
        padded = scaled
    frame = np.ascontiguousarray(padded[y0 + pad_t : y0 + pad_t + h, x0 + pad_l : x0 + pad_l + w])
    return face_photo(frame)
