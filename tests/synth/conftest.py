"""Rendered faces with known truth, for any test that needs a realistic face that moves in a known way.

Session-scoped: the sample faces are detected once (real model) and the renderers set up once (~1 s each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from microexpr.synth.photos import FacePhoto, sample_face
from microexpr.synth.render import Renderer
from microexpr.track.landmarker import FaceLandmarker
from microexpr.types import FaceObservation


@pytest.fixture(scope="session")
def astronaut(face_model) -> FacePhoto:
    """skimage's astronaut, 640x480, inter-ocular distance ~90 px, with its landmarks."""
    return sample_face("astronaut")


@pytest.fixture(scope="session")
def renderer(astronaut: FacePhoto) -> Renderer:
    """A renderer of the astronaut (per-AU fields precomputed)."""
    return Renderer(astronaut)


@pytest.fixture(scope="session")
def image_landmarker(face_model) -> Iterator[FaceLandmarker]:
    """One Face Landmarker in image mode (no temporal smoothing), up to two faces, shared by the session."""
    with FaceLandmarker(face_model, max_faces=2, mode="image") as lm:
        yield lm


@pytest.fixture(scope="session")
def detect(image_landmarker: FaceLandmarker) -> Callable[[np.ndarray], list[FaceObservation]]:
    """detect(rgb) -> faces found in one frame (image mode), left to right."""

    def run(image: np.ndarray) -> list[FaceObservation]:
        faces = image_landmarker.detect(image)
        return sorted(faces, key=lambda f: float(f.landmarks_px[:, 0].mean()))

    return run
