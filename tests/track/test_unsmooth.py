"""Undoing MediaPipe's video-mode landmark filter: the inverse on known data, and on the real landmarker."""

import numpy as np

from microexpr.track.unsmooth import OneEuro, Unsmoother

FPS = 120.0


def _face_like(rng: np.random.Generator, n_points: int = 60) -> np.ndarray:
    """Points spread over a 160-pixel face box, like a landmark array (x, y, z in pixels)."""
    return np.column_stack(
        [rng.uniform(240, 400, n_points), rng.uniform(160, 320, n_points), rng.uniform(-30, 30, n_points)]
    )


def _filtered(raw: np.ndarray, t: np.ndarray) -> np.ndarray:
    f = OneEuro()
    # MediaPipe hands its landmarks over as float32 and takes whole-millisecond timestamps
    return np.array([f(r, ts) for r, ts in zip(raw, np.round(t * 1000.0) / 1000.0)]).astype(np.float32)


def test_the_inverse_recovers_a_brief_movement_that_the_filter_damps_and_delays():
    rng = np.random.default_rng(3)
    n = int(3 * FPS)
    t = np.arange(n) / FPS
    shape = _face_like(rng)
    bump = 0.6 * np.exp(-0.5 * ((t - 1.5) / 0.06) ** 2)  # a 0.6 px, ~200 ms movement of some points
    moving = rng.random(len(shape)) < 0.3
    raw = shape + bump[:, None, None] * moving[None, :, None] + rng.normal(0, 0.05, (n, len(shape), 3))
    filtered = _filtered(raw, t)
    inv = Unsmoother()
    back = np.array([inv(y, ts) for y, ts in zip(filtered, np.round(t * 1000.0) / 1000.0)])

    err_filtered = np.abs(filtered - raw)
    err_back = np.abs(back - raw)
    assert np.percentile(err_back, 99) < 0.1 < np.percentile(err_filtered, 99)
    # the moving points: MediaPipe's filter lowers and delays the peak, the inverse gives it back
    y_raw = raw[:, moving, 1].mean(1)
    y_f, y_b = filtered[:, moving, 1].mean(1), back[:, moving, 1].mean(1)
    rest = np.median(y_raw[: int(FPS)])
    peak = int(np.argmax(bump))
    assert (y_f - rest).max() < 0.8 * (y_raw - rest).max()
    assert np.argmax(y_f) - peak >= 3  # frames late
    assert abs((y_b - rest).max() - (y_raw - rest).max()) < 0.05
    assert abs(int(np.argmax(y_b)) - int(np.argmax(y_raw))) <= 1


def test_the_error_does_not_grow_over_a_long_track_and_a_reset_starts_again():
    rng = np.random.default_rng(4)
    n = int(20 * FPS)
    t = np.arange(n) / FPS
    shape = _face_like(rng, 20)
    drift = np.cumsum(rng.normal(0, 0.02, (n, 1, 1)), axis=0)  # slow head drift, pixels
    raw = shape + drift + rng.normal(0, 0.08, (n, len(shape), 3))
    filtered = _filtered(raw, t)
    inv = Unsmoother()
    ts = np.round(t * 1000.0) / 1000.0
    back = np.array([inv(y, s) for y, s in zip(filtered, ts)])
    err = np.abs(back - raw).max(axis=(1, 2))
    assert np.percentile(err[-int(FPS) :], 99) < 0.15  # the last second as good as the rest
    assert np.percentile(err, 99) < 0.15
    inv.reset()
    first = inv(filtered[5], 100.0)
    assert np.array_equal(first, filtered[5].astype(np.float64))  # after a reset the first frame passes as is


def test_the_real_landmarker_damps_and_delays_a_faint_smile_and_the_undone_landmarks_do_not(face_model):
    """MediaPipe's own filter, as this MediaPipe runs it: if an upgrade changes it, this test fails."""
    from microexpr.synth import au_pulse, render_clip, sample_face
    from microexpr.track.landmarker import FaceLandmarker

    n = int(1.5 * FPS)
    apex_s = 0.8
    # a micro-expression's size: AU12 at trace level, 400 ms
    curves = {"AU12": au_pulse(n, FPS, onset_s=0.6, apex_s=apex_s, offset_s=1.0, peak=1.0)}
    frames = list(
        render_clip(sample_face("astronaut", size=(320, 240), iod_px=60), curves, fps=FPS, n_frames=n)
    )
    width = {}
    for undo in (False, True):
        with FaceLandmarker(face_model, undo_filter=undo) as lm:
            ys = []
            for k, img in enumerate(frames):
                faces = lm.detect(np.asarray(img), k / FPS)
                assert len(faces) == 1
                lms = faces[0].landmarks_px
                ys.append(
                    np.linalg.norm(lms[61, :2] - lms[291, :2])
                )  # mouth width: AU12 pulls the corners out
        ys = np.array(ys)
        width[undo] = ys - np.median(ys[: int(0.5 * FPS)])
    apex = int(round(apex_s * FPS))
    late_kept, late_undone = int(np.argmax(width[False])) - apex, int(np.argmax(width[True])) - apex
    assert abs(late_undone) <= 2 and late_kept >= 5, (late_kept, late_undone)  # 120 fps: 40 ms or more late
    assert width[True].max() > 1.6 * width[False].max()  # MediaPipe's filter about halves it
