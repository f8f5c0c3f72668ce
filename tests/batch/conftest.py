"""Builders for batch tests: small rendered clips (session-scoped: rendering costs seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FPS = 30.0


def render_small(
    path: Path, *, face: str = "astronaut", seconds: float = 2.0, smile_at_s: float = 1.2
) -> Path:
    """A short 320x240 clip of one real face with a smile (AU12) rising and falling."""
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    n = int(seconds * FPS)
    curves = {
        "AU12": au_pulse(
            n, FPS, onset_s=smile_at_s, apex_s=smile_at_s + 0.25, offset_s=smile_at_s + 0.5, peak=3.0
        )
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render_clip(sample_face(face, size=(320, 240), iod_px=55), curves, fps=FPS)
    return write_video(frames, path, fps=FPS)


@pytest.fixture(scope="session")
def clips(tmp_path_factory, face_model) -> dict[str, Path]:
    """Three different short clips: 'a', 'b' (another face) and 'c' (the smile elsewhere)."""
    d = tmp_path_factory.mktemp("clips")
    return {
        "a": render_small(d / "a.mp4"),
        "b": render_small(d / "b.mp4", face="hopper", smile_at_s=1.0),
        "c": render_small(d / "c.mp4", smile_at_s=0.9, seconds=1.6),
    }


@pytest.fixture(scope="session")
def image_sequence(tmp_path_factory, face_model) -> Path:
    """A folder of 36 numbered PNG frames (an image-sequence input; 30 fps given by the manifest or --fps)."""
    import cv2

    from microexpr.synth import au_pulse, render_clip, sample_face

    d = tmp_path_factory.mktemp("seqs") / "EP01"
    d.mkdir()
    n = 36
    curves = {"AU12": au_pulse(n, FPS, onset_s=0.6, apex_s=0.8, offset_s=1.0, peak=3.0)}
    for i, fr in enumerate(
        render_clip(sample_face("astronaut", size=(320, 240), iod_px=55), curves, fps=FPS)
    ):
        cv2.imwrite(str(d / f"img{i + 1}.png"), np.ascontiguousarray(fr[:, :, ::-1]))
    return d


@pytest.fixture(scope="session")
def two_face_long(tmp_path_factory, face_model) -> tuple[Path, list[tuple[int, float, float]]]:
    """4 s, two faces side by side, each with a smile placed across a border of 30-frame chunks.

    Returns the clip and the rendered (panel, onset_s, offset_s) of each smile.
    """
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    n = int(4 * FPS)
    truth = [(0, 1.75, 2.35), (1, 2.8, 3.3)]  # apexes near frames 60 and 90: chunk borders at 30 frames
    curves = [
        {"AU12": au_pulse(n, FPS, onset_s=on, apex_s=0.5 * (on + off), offset_s=off, peak=3.0)}
        for _, on, off in truth
    ]
    photos = [
        sample_face("astronaut", size=(320, 400), iod_px=60),
        sample_face("hopper", size=(320, 400), iod_px=60),
    ]
    path = tmp_path_factory.mktemp("long") / "two_long.mp4"
    return write_video(render_clip(photos, curves, fps=FPS), path, fps=FPS), truth
