"""The renderer moves a real face the way the AU table says, and MediaPipe sees it; clips and videos are exact.

Landmark movements are measured with the real Face Landmarker in image mode on the rendered frame against
the neutral frame, and compared with the renderer's own truth (``Renderer.landmarks``).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from microexpr.errors import InputError, OptionError
from microexpr.facs import BLENDSHAPE_INDEX, LM
from microexpr.synth import (
    SAMPLE_EVENTS,
    au_pulse,
    face_photo,
    make_sample_video,
    render_clip,
    sample_curves,
    sample_face,
    write_video,
)
from microexpr.synth.motions import face_axes

BROWS = (107, 66, 105, 63, 70, 336, 296, 334, 293, 300)
CORNERS = (LM.MOUTH_CORNER_R, LM.MOUTH_CORNER_L)


def _up(delta: np.ndarray, idx: tuple[int, ...], ey: np.ndarray) -> float:
    """Mean movement of landmarks ``idx`` toward the forehead, in pixels."""
    return float(np.mean([-(delta[i, :2] @ ey) for i in idx]))


@pytest.fixture(scope="module")
def neutral(renderer, detect):
    return detect(renderer.render({}))[0]


# ---- the photo, unchanged ---------------------------------------------------------------------------------


def test_zero_intensity_is_the_photo(renderer, astronaut):
    assert np.array_equal(renderer.render({}), astronaut.image)
    assert np.array_equal(renderer.render({"AU12": 0.0, "AU45": 0.0}), astronaut.image)
    # continuity: a barely-there AU changes no pixel by more than a couple of grey levels
    tiny = renderer.render({"AU12": 1e-3, "AU45": 1e-3, "AU26": 1e-3}).astype(int)
    assert np.abs(tiny - astronaut.image).max() <= 2


# ---- each AU moves what FACS says, and MediaPipe sees it ---------------------------------------------------


def test_au12_raises_the_mouth_corners_and_leaves_the_brows(renderer, astronaut, neutral, detect):
    au = {"AU12": 3.0}
    seen = detect(renderer.render(au))[0].landmarks_px - neutral.landmarks_px
    meant = renderer.landmarks(au) - astronaut.landmarks_px
    _, ey, iod = face_axes(astronaut.landmarks_px)
    meant_up = _up(meant, CORNERS, ey)
    assert meant_up == pytest.approx(0.10 * 3 / 5 * iod, rel=0.05)  # the table: 0.10 IOD at intensity 5
    assert 0.7 * meant_up <= _up(seen, CORNERS, ey) <= 1.3 * meant_up
    assert np.abs(seen[list(BROWS), :2]).max() < 0.5


def test_au01_raises_the_inner_brows(renderer, astronaut, neutral, detect):
    au = {"AU01": 3.0}
    face = detect(renderer.render(au))[0]
    seen = face.landmarks_px - neutral.landmarks_px
    meant = renderer.landmarks(au) - astronaut.landmarks_px
    _, ey, _ = face_axes(astronaut.landmarks_px)
    inner = (107, 336)
    assert _up(seen, inner, ey) >= 0.6 * _up(meant, inner, ey) > 0
    assert np.abs(seen[list(CORNERS), :2]).max() < 0.5
    i = BLENDSHAPE_INDEX["browInnerUp"]
    assert face.blendshapes[i] - neutral.blendshapes[i] > 0.2


def test_au45_closes_the_eyes(renderer, neutral, detect):
    face = detect(renderer.render({"AU45": 5.0}))[0]

    def gaps(lm: np.ndarray) -> np.ndarray:
        return np.array(
            [lm[LM.EYE_LOWER_R, 1] - lm[LM.EYE_UPPER_R, 1], lm[LM.EYE_LOWER_L, 1] - lm[LM.EYE_UPPER_L, 1]]
        )

    assert (gaps(face.landmarks_px) < 0.3 * gaps(neutral.landmarks_px)).all()
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert (
            face.blendshapes[BLENDSHAPE_INDEX[name]] > 0.4 > neutral.blendshapes[BLENDSHAPE_INDEX[name]] + 0.2
        )


def test_au26_opens_the_mouth(renderer, neutral, detect):
    face = detect(renderer.render({"AU26": 4.0}))[0]
    gap = face.landmarks_px[LM.LOWER_LIP_INNER, 1] - face.landmarks_px[LM.UPPER_LIP_INNER, 1]
    gap0 = neutral.landmarks_px[LM.LOWER_LIP_INNER, 1] - neutral.landmarks_px[LM.UPPER_LIP_INNER, 1]
    assert gap - gap0 > 0.06 * 90  # more than 5 px wider at an inter-ocular distance of 90 px
    assert face.landmarks_px[LM.CHIN, 1] - neutral.landmarks_px[LM.CHIN, 1] > 5.0


# main landmark(s) of each AU, the direction it moves ("up" toward the forehead, "lat" away from the
# midline), and the least share of the intended movement that MediaPipe reports at intensity 4
# (measured 2026-11: AU05 ~0.17, AU04 and AU09 ~0.5, most others 0.6 to 1.1)
RESPONSES = {
    "AU01": ((107, 336), "up", 0.6),
    "AU02": ((70, 300), "up", 0.3),
    "AU04": ((107, 336), "down", 0.35),
    "AU05": ((159, 386), "up", 0.08),
    "AU06": ((145, 374), "up", 0.4),
    "AU07": ((145, 374), "up", 0.4),
    "AU09": ((64, 294), "up", 0.3),
    "AU10": ((0,), "up", 0.5),
    "AU12": (CORNERS, "up", 0.6),
    "AU14": (CORNERS, "lat", 0.5),
    "AU15": (CORNERS, "down", 0.7),
    "AU17": ((17,), "up", 0.6),
    "AU20": (CORNERS, "lat", 0.5),
    "AU23": ((0,), "down", 0.3),
    "AU25": ((14,), "down", 0.4),
    "AU26": ((152,), "down", 0.6),
    "AU45": ((159, 386), "down", 0.5),
}


@pytest.mark.parametrize("code", sorted(RESPONSES))
def test_every_au_moves_its_landmarks_the_intended_way(code, renderer, astronaut, neutral, detect):
    idx, direction, least = RESPONSES[code]
    au = {code: 4.0}
    seen = detect(renderer.render(au))[0].landmarks_px - neutral.landmarks_px
    meant = renderer.landmarks(au) - astronaut.landmarks_px
    ex, ey, iod = face_axes(astronaut.landmarks_px)
    if direction == "lat":
        sides = [
            np.sign((astronaut.landmarks_px[i, :2] - astronaut.landmarks_px[LM.NOSE_TIP, :2]) @ ex)
            for i in idx
        ]

        def comp(d: np.ndarray) -> float:
            return float(np.mean([s * (d[i, :2] @ ex) for s, i in zip(sides, idx)]))
    else:
        sign = 1.0 if direction == "up" else -1.0

        def comp(d: np.ndarray) -> float:
            return sign * _up(d, idx, ey)

    assert comp(meant) > 0.02 * iod
    assert comp(seen) >= least * comp(meant)


# ---- head motion conventions -------------------------------------------------------------------------------


def _eye_line_deg(lm: np.ndarray) -> float:
    d = lm[LM.EYE_OUTER_L, :2] - lm[LM.EYE_OUTER_R, :2]
    return float(np.degrees(np.arctan2(d[1], d[0])))


@pytest.mark.parametrize("roll", [10.0, -10.0])
def test_roll_turns_the_eye_line_clockwise_for_positive_angles(roll, renderer, neutral, detect):
    face = detect(renderer.render({}, roll_deg=roll))[0]
    # image y points down, so a positive change of the eye line's angle is clockwise on screen
    assert _eye_line_deg(face.landmarks_px) - _eye_line_deg(neutral.landmarks_px) == pytest.approx(
        roll, abs=1.5
    )


def test_yaw_moves_the_nose_right_and_pitch_moves_the_chin_down(renderer, neutral, detect):
    def nose_from_outline_centre(lm: np.ndarray) -> float:
        return float(lm[LM.NOSE_TIP, 0] - 0.5 * (lm[234, 0] + lm[454, 0]))

    right = detect(renderer.render({}, yaw_deg=15.0))[0].landmarks_px
    left = detect(renderer.render({}, yaw_deg=-15.0))[0].landmarks_px
    base = nose_from_outline_centre(neutral.landmarks_px)
    assert nose_from_outline_centre(right) - base > 10.0
    assert nose_from_outline_centre(left) - base < -10.0
    down = detect(renderer.render({}, pitch_deg=10.0))[0].landmarks_px
    assert down[LM.CHIN, 1] - neutral.landmarks_px[LM.CHIN, 1] > 3.0
    assert down[LM.NOSE_TIP, 1] - neutral.landmarks_px[LM.NOSE_TIP, 1] > 8.0


def test_truth_landmarks_follow_head_motion_and_aus(renderer, detect):
    kw = {"yaw_deg": 6.0, "pitch_deg": -4.0, "roll_deg": 5.0, "shift_px": (8.0, -5.0)}
    au = {"AU12": 2.0, "AU01": 2.0}
    seen = detect(renderer.render(au, **kw))[0].landmarks_px
    truth = renderer.landmarks(au, **kw)
    assert np.median(np.linalg.norm(seen[:, :2] - truth[:, :2], axis=1)) < 1.5


# ---- bad input ---------------------------------------------------------------------------------------------


def test_face_photo_without_a_face_says_so(face_model):
    sky = np.zeros((240, 320, 3), np.uint8)
    sky[:] = (120, 160, 220)
    with pytest.raises(InputError, match=r"no face found in the 320x240 photo"):
        face_photo(sky)
    with pytest.raises(InputError, match=r"uint8 RGB array with shape \(H, W, 3\)"):
        face_photo(np.zeros((240, 320), np.uint8))


def test_render_rejects_unknown_aus_and_out_of_range_intensities(renderer):
    with pytest.raises(OptionError, match="unknown AU code 'AU99'"):
        renderer.render({"AU99": 1.0})
    with pytest.raises(OptionError, match=r"AU12 intensity must be in \[0, 5\]"):
        renderer.render({"AU12": 6.0})
    with pytest.raises(OptionError, match="roll_deg"):
        renderer.render({}, roll_deg=float("nan"))


# ---- curves ------------------------------------------------------------------------------------------------


def test_au_pulse_rises_to_the_peak_at_the_apex_and_is_zero_outside():
    c = au_pulse(100, 100.0, onset_s=0.2, apex_s=0.3, offset_s=0.5, peak=3.0)
    assert c.shape == (100,) and c.dtype == np.float32
    assert (c[:20] == 0).all() and (c[50:] == 0).all()
    assert c[30] == pytest.approx(3.0) and c.max() == pytest.approx(3.0)
    assert (np.diff(c[20:31]) > 0).all() and (np.diff(c[30:51]) < 0).all()
    with pytest.raises(OptionError, match="onset <= apex <= offset"):
        au_pulse(10, 30.0, onset_s=0.3, apex_s=0.2, offset_s=0.5, peak=1.0)


# ---- clips: several faces, hiding one, noise ----------------------------------------------------------------


def test_two_faces_side_by_side_and_one_hidden(face_model, detect):
    # MediaPipe's detector misses faces narrower than about a fifth of the frame: 320-wide panels
    left, right = sample_face("astronaut", size=(320, 480)), sample_face("hopper", size=(320, 480))
    n = 4
    visible = np.array([True, True, False, False])
    frames = list(
        render_clip(
            [left, right],
            [{"AU12": np.full(n, 2.0)}, {}],
            fps=30.0,
            visible=[None, visible],
            roll_deg=[0.0, 3.0],
        )
    )
    assert len(frames) == n and frames[0].shape == (480, 640, 3)
    both = detect(frames[1])
    assert len(both) == 2
    assert both[0].landmarks_px[:, 0].max() < 320 <= both[1].landmarks_px[:, 0].min()
    alone = detect(frames[2])
    assert len(alone) == 1 and alone[0].landmarks_px[:, 0].max() < 320


def test_clip_noise_is_reproducible_and_of_the_asked_size(renderer, astronaut):
    a = next(render_clip(renderer, {}, fps=30.0, n_frames=1, noise_std=3.0, seed=7))
    b = next(render_clip(renderer, {}, fps=30.0, n_frames=1, noise_std=3.0, seed=7))
    c = next(render_clip(renderer, {}, fps=30.0, n_frames=1, noise_std=3.0, seed=8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.std(a.astype(float) - astronaut.image) == pytest.approx(3.0, rel=0.1)
    with pytest.raises(OptionError, match="same length"):
        list(render_clip(renderer, {"AU12": np.zeros(5)}, fps=30.0, yaw_deg=np.zeros(6)))


# ---- video files -------------------------------------------------------------------------------------------


def _read_back(path: Path) -> tuple[list[np.ndarray], list[float], float, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys = sum(1 for pkt in c.demux(s) if pkt.size and pkt.is_keyframe)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames, times = [], []
        for f in c.decode(s):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.time))
        rate = float(s.average_rate)
    return frames, times, rate, keys


@pytest.mark.parametrize("fps", [30.0, 200.0])
def test_write_video_round_trip_has_exact_times_and_one_key_frame(fps, renderer, tmp_path):
    curve = au_pulse(40, fps, onset_s=0.0, apex_s=20 / fps, offset_s=39 / fps, peak=3.0)
    frames = list(render_clip(renderer, {"AU12": curve}, fps=fps))
    path = write_video(frames, tmp_path / "clip.mp4", fps=fps)
    back, times, rate, keys = _read_back(path)
    assert len(back) == 40 and rate == fps and keys == 1
    assert np.allclose(times, np.arange(40) / fps, atol=1e-9, rtol=0)
    assert np.abs(back[20].astype(int) - frames[20]).mean() < 2.0  # crf 12: visually lossless
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_write_video_lossless_is_exact_and_keyint_is_honoured(renderer, tmp_path):
    frames = list(render_clip(renderer, {"AU45": np.linspace(0, 5, 6)}, fps=25.0))
    back, _, _, _ = _read_back(write_video(frames, tmp_path / "ll.mkv", fps=25.0, lossless=True))
    assert all(np.array_equal(a, b) for a, b in zip(frames, back))
    _, _, _, keys = _read_back(write_video(frames, tmp_path / "k.mp4", fps=25.0, keyint=2))
    assert keys == 3


def test_write_video_leaves_nothing_behind_when_the_frames_fail(tmp_path):
    def broken():
        yield np.zeros((32, 32, 3), np.uint8)
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="camera unplugged"):
        write_video(broken(), tmp_path / "out.mp4", fps=30.0)
    with pytest.raises(OptionError, match="frame 1 has size 16x16, but the video is 32x32"):
        write_video(
            [np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], tmp_path / "o.mp4", fps=30.0
        )
    with pytest.raises(OptionError, match="no frames"):
        write_video([], tmp_path / "o.mp4", fps=30.0)
    assert list(tmp_path.iterdir()) == []


# ---- the demo clip -----------------------------------------------------------------------------------------


def test_sample_video_is_neutral_first_then_shows_its_events(face_model, tmp_path):
    fps, seconds = 20.0, 3.0  # the brow raise's apex (2.7 s) falls on frame 54
    curves = sample_curves(int(seconds * fps), fps)
    t = np.arange(int(seconds * fps)) / fps
    assert all((c[t < 2.0] == 0).all() for c in curves.values())
    brow = SAMPLE_EVENTS[0]
    assert curves["AU01"][int(round(brow.apex_s * fps))] == pytest.approx(dict(brow.aus)["AU01"])
    micro = [e for e in SAMPLE_EVENTS if e.kind == "micro"]
    assert micro and all(e.duration_ms <= 500 for e in micro)
    path = make_sample_video(tmp_path / "sample.mp4", fps=fps, seconds=seconds)
    back, times, rate, keys = _read_back(path)
    assert len(back) == 60 and rate == fps and keys == 1 and back[0].shape == (480, 640, 3)
