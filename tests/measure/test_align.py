import numpy as np

from microexpr.measure.align import align_to, fit_residual, iod, similarity_fit
from microexpr.measure.geometry import FEATURE_INDEX, features


def _face(rng):
    return rng.normal(size=(478, 3)) * 40 + np.array([300.0, 200.0, 0.0])


def _rot(yaw, pitch, roll):
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rx @ ry @ rz


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 3))
    r = _rot(0.3, -0.2, 0.5)
    dst = 2.5 * src @ r.T + np.array([1.0, -2.0, 3.0])
    s, rr, t = similarity_fit(src, dst)
    np.testing.assert_allclose(s, 2.5, rtol=1e-9)
    np.testing.assert_allclose(rr, r, atol=1e-9)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-9)


def test_head_motion_does_not_change_geometry_features():
    rng = np.random.default_rng(1)
    ref = _face(rng)
    moved = 0.7 * (ref - ref.mean(0)) @ _rot(0.35, 0.2, -0.3).T + np.array([50.0, -20.0, 5.0])
    np.testing.assert_allclose(features(moved, ref), features(ref, ref), atol=1e-9)
    assert fit_residual(moved, ref) < 1e-9


def test_a_lip_corner_rise_shows_in_its_feature_only_in_iod_units():
    rng = np.random.default_rng(2)
    ref = _face(rng)
    moved = ref.copy()
    rise = 0.05 * iod(ref)
    for i in (61, 76, 62):  # subject's right mouth corner group
        moved[i, 1] -= rise
    d = features(moved, ref) - features(ref, ref)
    assert abs(d[FEATURE_INDEX["corner_raise_R"]] - 0.05) < 1e-6
    others = np.delete(d, [FEATURE_INDEX["corner_raise_R"], FEATURE_INDEX["corner_lateral_R"]])
    assert np.abs(others).max() < 1e-9


def test_align_to_is_identity_on_the_reference():
    ref = _face(np.random.default_rng(3))
    np.testing.assert_allclose(align_to(ref, ref), ref, atol=1e-9)
