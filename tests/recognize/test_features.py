"""Onset-apex flow on aligned crops of rendered faces (real renderer, real landmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.recognize.features import (
    au_landmark_sequence,
    crop_flow,
    flip_flow,
    onset_apex_flow,
    optical_strain,
)


@pytest.fixture(scope="module")
def astronaut(face_model):
    from microexpr.synth import sample_face
    from microexpr.synth.render import Renderer

    photo = sample_face("astronaut", size=(320, 320), iod_px=80.0)
    return photo, Renderer(photo)


def test_a_smile_moves_the_mouth_corners_up_and_out(astronaut):
    photo, r = astronaut
    x = onset_apex_flow(photo.image, r.render({"AU12": 3.0}), photo.landmarks_px, size=28)
    assert x.shape == (3, 28, 28) and x.dtype == np.float32
    u, v = x[0], x[1]
    lower = slice(17, 24)  # the mouth is in the lower third of the aligned crop
    left, right = u[lower, 5:12], u[lower, 16:23]
    assert v[lower].min() < -0.1  # corners go up (image y down)
    assert left.mean() < 0 < right.mean()  # and apart: the image's left corner moves left
    assert np.abs(v[:10]).max() < np.abs(v[lower]).max()  # brows barely move


def test_brow_raise_moves_the_top_and_the_size_is_a_choice(astronaut):
    photo, r = astronaut
    x = onset_apex_flow(photo.image, r.render({"AU01": 3.0, "AU02": 3.0}), photo.landmarks_px, size=112)
    assert x.shape == (3, 112, 112)
    v = x[1]
    assert v[:50].min() < -0.3
    assert np.abs(v[:50]).max() > np.abs(v[80:]).max()


def test_no_motion_gives_no_flow_and_head_shift_is_removed(astronaut):
    photo, r = astronaut
    same = onset_apex_flow(photo.image, photo.image, photo.landmarks_px)
    assert np.abs(same).max() < 1e-3
    shifted = onset_apex_flow(photo.image, r.render({}, shift_px=(1.5, -1.0)), photo.landmarks_px)
    assert np.abs(shifted[:2]).mean() < 0.05  # the global shift went with the nose's median flow


def test_flip_swaps_sides_and_negates_u():
    x = np.zeros((3, 8, 8), np.float32)
    x[0, 2, 1] = 1.0  # rightward motion at the image's left
    x[1, 2, 1] = -2.0
    y = flip_flow(x)
    assert y[0, 2, 6] == -1.0 and y[1, 2, 6] == -2.0
    assert np.array_equal(flip_flow(y), x)


def test_strain_of_a_uniform_shift_is_zero_and_of_a_stretch_is_not():
    u = np.full((10, 10), 3.0)
    assert np.abs(optical_strain(u, np.zeros_like(u))).max() == 0.0
    stretch = np.tile(np.arange(10.0) * 0.1, (10, 1))  # u_x = 0.1
    assert optical_strain(stretch, np.zeros_like(stretch)) == pytest.approx(np.full((10, 10), 0.1))


def test_bad_inputs_name_the_shape():
    with pytest.raises(ValueError, match="size must be"):
        crop_flow(np.zeros((128, 128), np.uint8), np.zeros((128, 128), np.uint8), size=4)
    with pytest.raises(ValueError, match="differ in size"):
        onset_apex_flow(np.zeros((64, 64), np.uint8), np.zeros((32, 32), np.uint8), None)


def test_au_and_landmark_sequence_is_resampled_from_the_onset():
    t = 9
    au = np.zeros((t, 17))
    au[:, 8] = np.arange(t)
    lm = np.zeros((t, 478, 3))
    lm[:, 263, 0] = 10.0  # inter-ocular distance 10 px
    lm[:, 0, 1] = np.arange(t) * 2.0
    s = au_landmark_sequence(au, lm, 2, 6, length=5)
    assert s.shape == (5, 17 + 2 * 478)
    assert s[:, 8] == pytest.approx([2, 3, 4, 5, 6])
    assert s[:, 17 + 478] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])  # y of landmark 0, in IOD
    with pytest.raises(ValueError, match="onset"):
        au_landmark_sequence(au, lm, 6, 2)
