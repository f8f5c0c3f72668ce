import numpy as np

from microexpr.facs import LM
from microexpr.measure.gaze import eye_in_head
from microexpr.measure.quality import QualityThresholds, crop_measures, flags


def _eyes() -> np.ndarray:
    p = np.zeros((478, 3))
    for outer, inner, up, low, iris, cx in (
        (LM.EYE_OUTER_R, LM.EYE_INNER_R, LM.EYE_UPPER_R_ALL, LM.EYE_LOWER_R_ALL, LM.IRIS_R, 100.0),
        (LM.EYE_OUTER_L, LM.EYE_INNER_L, LM.EYE_UPPER_L_ALL, LM.EYE_LOWER_L_ALL, LM.IRIS_L, 200.0),
    ):
        p[[outer, inner], 0] = [cx - 15 if cx < 150 else cx + 15, cx + 15 if cx < 150 else cx - 15]
        p[[outer, inner], 1] = 100.0
        p[list(up), 0], p[list(up), 1] = cx, 95.0
        p[list(low), 0], p[list(low), 1] = cx, 105.0
        p[list(iris), 0], p[list(iris), 1] = cx, 100.0
    return p


def test_gaze_is_zero_for_centred_irises_and_signed_by_direction():
    p = _eyes()
    np.testing.assert_allclose(eye_in_head(p), [0.0, 0.0], atol=1e-9)
    right = p.copy()
    right[list(LM.IRIS_R) + list(LM.IRIS_L), 0] += 4.0  # irises move toward the image right
    down = p.copy()
    down[list(LM.IRIS_R) + list(LM.IRIS_L), 1] += 3.0
    gx, gy = eye_in_head(right)
    assert gx > 0.2 and abs(gy) < 1e-9
    gx, gy = eye_in_head(down)
    assert gy > 0.2 and abs(gx) < 1e-9


def test_quality_measures_see_blur_and_darkness():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    lm = np.zeros((478, 3))
    lm[:, 0] = np.linspace(50, 150, 478)
    lm[:, 1] = np.linspace(40, 160, 478)
    import cv2

    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    s_sharp, lum, size = crop_measures(sharp, lm)
    s_blur, _, _ = crop_measures(blurred, lm)
    assert s_sharp > 10 * s_blur and abs(size - 120) < 1e-6 and 100 < lum < 155
    _, dark_lum, _ = crop_measures(sharp // 8, lm)
    th = QualityThresholds()
    assert flags(s_blur, lum, 0.0, 0.0, size, th)[0] == 1
    assert flags(s_sharp, dark_lum, 0.0, 0.0, size, th) == (0, 1, 0, 0)
    assert flags(s_sharp, lum, 30.0, 0.0, size, th)[1] == 1  # a light jump (flicker)
    assert flags(s_sharp, lum, 0.0, 90.0, 50.0, th)[2:] == (1, 1)


def _observation(yaw_deg: float):
    from microexpr.types import FaceObservation

    rng = np.random.default_rng(1)
    lm = rng.uniform(100, 300, (478, 3))
    a = np.radians(yaw_deg)
    m = np.eye(4)
    m[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    m[2, 3] = -40.0
    return FaceObservation(0, lm, np.zeros(52), m)


def _speeds(fps: float, yaw_at) -> np.ndarray:
    from microexpr.measure.frame import FaceMeasurer
    from microexpr.measure.quality import QUALITY_COLUMNS

    fm = FaceMeasurer(lambda fid, f: f.landmarks_px)
    k = QUALITY_COLUMNS.index("head_speed_deg_s")
    t = np.arange(int(fps)) / fps
    return np.array(
        [
            fm.measure(_observation(yaw_at(i, ti)), ti, (100.0, 120.0, 200.0)).quality[k]
            for i, ti in enumerate(t)
        ]
    )


def test_head_speed_is_the_same_at_any_frame_rate_and_pose_jitter_is_not_motion():
    """A still head whose pose estimate jitters by 0.3 deg frame to frame must not read as fast motion at 200 fps
    (a frame-to-frame difference would call it 60 deg/s and flag it); a real 30 deg/s turn reads 30 at any rate."""
    jitter = lambda i, t: 0.3 * (i % 2)  # noqa: E731
    for fps in (30, 120, 200):
        still = _speeds(fps, jitter)[10:]
        assert still.max() < 0.3 * fps / 2 and np.median(still) < 15.0, (fps, still.max())
        turning = _speeds(fps, lambda i, t: 30.0 * t)[10:]
        np.testing.assert_allclose(turning, 30.0, rtol=0.05)
