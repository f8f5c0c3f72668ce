"""The faster per-frame paths that live mode relies on give exactly what the plain paths give.

Live mode at 120 fps needs the work around the landmarker cut down (issue 6). Each cut here must leave the
numbers unchanged: the landmarker's direct read of MediaPipe's C results (and its fallback when they would
differ), the region flow and occlusion without NumPy's per-call overhead, and the crop measures taken from
the grey frame the observation stage already has.
"""

from __future__ import annotations

import threading
import warnings

import cv2
import numpy as np
import pytest

from microexpr.io import open_source
from microexpr.measure.motion import _REGIONS, CROP_PX, CROP_UNIT_PX, FlowMeter, to_crop
from microexpr.measure.quality import crop_measures
from microexpr.track.landmarker import FaceLandmarker, _FastDetect
from microexpr.track.observe import detect_raw


@pytest.fixture(scope="module")
def frames(smile_video):
    """The smile clip's first 45 frames (1.5 s): neutral, then the smile rising."""
    with open_source(smile_video) as src:
        return [(fr.image, fr.t_s) for fr, _ in zip(src, range(45))]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.landmarks_px, y.landmarks_px)
        and np.array_equal(x.blendshapes, y.blendshapes)
        and np.array_equal(x.transform, y.transform)
        for x, y in zip(a, b)
    )


@pytest.mark.parametrize("mode,direct", [("video", True), ("video", False), ("image", True)])
def test_the_fast_landmarker_gives_the_plain_arrays(frames, face_model, mode, direct):
    """Landmarks, blendshapes and transforms read straight from MediaPipe's C structs are the ones its own
    Python objects give, frame after frame (two landmarkers on the same frames: MediaPipe is deterministic)."""
    n = len(frames) if mode == "video" else 8
    with (
        FaceLandmarker(face_model, mode=mode) as fast,
        FaceLandmarker(face_model, mode=mode, fast=False) as plain,
    ):
        assert plain._fast is None
        # the fast path must be on with this MediaPipe: if an upgrade turns it off, live mode is slower
        assert fast._fast is not None and fast._fast._direct
        if not direct:  # through MediaPipe's dispatcher thread instead of the direct call
            fast._fast = _FastDetect.wrap(fast._lm, mode, fast._call_lock, direct=False)
            assert fast._fast is not None and not fast._fast._direct
        found = 0
        for image, t_s in frames[:n]:
            a, b = fast.detect(image, t_s), plain.detect(image, t_s)
            assert _same(a, b)
            found += len(a)
        assert found == n  # one face in every frame: the comparison is not vacuous
        assert fast._fast is not None and fast._fast.ok  # the self-check agreed


def test_the_fast_landmarker_drops_back_to_the_plain_path_when_they_differ(frames, face_model):
    """A fast read that disagrees with MediaPipe's own conversion (as a changed struct layout would) is
    caught by the self-check on the first frames: that frame's result is the plain one, and the landmarker
    keeps to the plain path afterwards."""
    with FaceLandmarker(face_model) as lm, FaceLandmarker(face_model, fast=False) as plain:
        good_read = lm._fast._read

        def skewed(res, w, h):
            faces = good_read(res, w, h)
            return [f.__class__(-1, f.landmarks_px + 1.0, f.blendshapes, f.transform) for f in faces]

        lm._fast._read = skewed
        for image, t_s in frames[:10]:
            assert _same(lm.detect(image, t_s), plain.detect(image, t_s))
        assert lm._fast is None


def test_the_fast_path_is_refused_for_a_landmarker_it_does_not_know():
    assert _FastDetect.wrap(object(), "video", threading.Lock()) is None


def _reference_features(meter: FlowMeter, flow: np.ndarray) -> np.ndarray:
    """Region flow as first written (np.median, then one mean per region)."""
    u = flow[..., 0].ravel()
    v = flow[..., 1].ravel()
    u = u - np.median(u)
    v = v - np.median(v)
    out = np.empty(len(meter.masks))
    for k, idx in enumerate(meter.masks):
        if len(idx) == 0:
            out[k] = 0.0
        else:
            out[k] = -v[idx].mean() if meter.is_up[k] else meter.sign_out[k] * u[idx].mean()
    return out / CROP_UNIT_PX


def _reference_occlusion(meter: FlowMeter, crop: np.ndarray, flow: np.ndarray) -> float:
    """Occlusion as first written (neutral converted and each zone's mean taken every frame)."""
    grid = np.mgrid[0:CROP_PX, 0:CROP_PX][::-1].astype(np.float32)
    back = cv2.remap(
        np.asarray(crop, np.float32),
        grid[0] + flow[..., 0],
        grid[1] + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    a, b = back.ravel(), meter.neutral.astype(np.float32).ravel()
    worst = 0.0
    for idx in meter.zones:
        with warnings.catch_warnings():  # an empty zone: NaN means, ncc 0
            warnings.simplefilter("ignore", RuntimeWarning)
            x, y = a[idx] - a[idx].mean(), b[idx] - b[idx].mean()
        den = float(np.sqrt((x * x).sum() * (y * y).sum()))
        ncc = float((x * y).sum() / den) if den > 1e-6 else 0.0
        worst = max(worst, 1.0 - ncc)
    return float(np.clip(worst, 0.0, 1.0))


def test_region_flow_and_occlusion_are_bit_identical_to_the_plain_computation(frames, face_model):
    """On real crops (neutral to smile), on noisy ones, and with regions pushed partly or wholly out of the
    crop (an extreme pose): every feature and the occlusion score equal the straightforward code's."""
    crops, lms = [], []
    with FaceLandmarker(face_model) as lm:
        for image, t_s in frames:
            faces, err = detect_raw(lm, image, t_s)
            assert not err and len(faces) == 1
            crops.append(faces[0][4])
            lms.append(to_crop(faces[0][0], faces[0][5]))
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(c.astype(int) + rng.integers(-25, 25, c.shape), 0, 255).astype(np.uint8) for c in crops[::4]
    ]
    shifted = lms[0] + np.array([60.0, 70.0])  # the lower face regions fall outside the crop
    checked = 0
    for neutral_crop, neutral_lms in ((crops[0], lms[0]), (crops[20], lms[20]), (crops[0], shifted)):
        meter = FlowMeter(neutral_crop, neutral_lms)
        for c in crops + noisy:
            got = meter.features(c)
            flow = meter._last_flow
            assert np.array_equal(got, _reference_features(meter, flow))
            assert meter.occlusion(c) == _reference_occlusion(meter, c, flow)
            checked += 1
    assert checked == 3 * (len(crops) + len(noisy))
    empty = FlowMeter(crops[0], shifted)
    assert len(empty.masks) == len(_REGIONS)
    assert any(len(m) == 0 for m in empty.masks) and any(len(z) == 0 for z in empty.zones)  # exercised


def test_crop_measures_from_the_grey_frame_are_the_same(frames, face_model):
    """Sharpness, luminance and size from the grey frame equal those from converting the face box again,
    including a face box cut by the frame's edge."""
    with FaceLandmarker(face_model) as lm:
        for k, (image, t_s) in enumerate(frames[::5]):
            face = lm.detect(image, t_s)[0]
            img = np.ascontiguousarray(np.roll(image, 200 * (k % 3), axis=1))  # the face cut at the edge
            pts = face.landmarks_px.copy()
            pts[:, 0] = (pts[:, 0] + 200 * (k % 3)) % img.shape[1] if k % 3 else pts[:, 0]
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            assert crop_measures(img, pts, grey) == crop_measures(img, pts)


def test_a_live_run_keeps_its_start_up_objects_out_of_the_garbage_collector_and_restores_it(smile_video):
    """A full collection walking MediaPipe's, SciPy's and pandas' objects holds the GIL for ~50 ms, long
    enough for a 120 fps source to drop frames: during a run they are frozen, and the run leaves the
    collector (and the thread switch interval and OpenCV's thread count it sets) as it found them."""
    import gc
    import sys

    from microexpr.live import open_live, run_live

    assert gc.get_freeze_count() == 0
    switch = sys.getswitchinterval()
    cv_threads = cv2.getNumThreads()
    seen = []

    def on_frame(fr, events, latency_ms):
        if fr is not None:
            seen.append((gc.get_freeze_count(), sys.getswitchinterval(), cv2.getNumThreads()))

    st = run_live(open_live(str(smile_video)), on_frame=on_frame, switch_interval_s=0.001, opencv_threads=1)
    assert st.frames == 90 and len(seen) == 90
    assert all(frozen > 10_000 for frozen, _, _ in seen)  # the imported libraries' objects, not a handful
    assert all(si == pytest.approx(0.001) for _, si, _ in seen)
    assert all(n == 1 for *_, n in seen)  # asked for: OpenCV works in the pipeline's own threads in the run
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == switch
    assert cv2.getNumThreads() == cv_threads


# --- session 5: the work around the landmarker, cut again (each cut: the same numbers as the plain code) ---


def test_one_rgb_converter_per_stream_gives_the_pixels_of_to_ndarray(tmp_path, smile_video):
    """Decoded frames converted by one kept converter, in the reading thread, are the pixels PyAV's
    ``to_ndarray(format="rgb24")`` gives (a new converter per frame), for the pixel formats and odd sizes
    cameras and files bring."""
    import av

    from microexpr.io.video import RGBConverter

    rng = np.random.default_rng(1)
    clips = [smile_video]
    for pix_fmt, (w, h) in (("yuv420p", (162, 122)), ("yuvj420p", (160, 120)), ("yuv444p", (161, 121))):
        path = tmp_path / f"{pix_fmt}.mp4"
        with av.open(str(path), "w") as out:
            st = out.add_stream("libx264", rate=30)
            st.width, st.height, st.pix_fmt = w, h, pix_fmt
            for _ in range(6):
                img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in st.encode(frame):
                    out.mux(packet)
            for packet in st.encode(None):
                out.mux(packet)
        clips.append(path)
    checked = 0
    for path in clips:
        conv = RGBConverter()
        with av.open(str(path)) as c:
            for frame in c.decode(c.streams.video[0]):
                got = conv(frame)
                assert got.dtype == np.uint8 and got.shape == (frame.height, frame.width, 3)
                assert np.array_equal(got, frame.to_ndarray(format="rgb24"))
                checked += 1
    assert checked == 90 + 3 * 6


def test_a_file_played_live_decodes_the_frames_open_source_gives(smile_video):
    """The live file source decodes in its own thread (no FFmpeg threads): the same frames, times and
    indices as ``open_source``, which keeps FFmpeg's frame threads."""
    from microexpr.live import open_live
    from microexpr.live import sources as live_sources

    assert live_sources.FILE_DECODE_THREADS == "NONE"
    with open_source(smile_video) as src:
        assert src.thread_type == "AUTO"
        plain = [(fr.index, fr.t_s, fr.image) for fr in src]
    live = [(fr.index, fr.t_s, fr.image) for fr in open_live(str(smile_video)).frames]
    assert len(live) == len(plain) == 90
    assert all(a[:2] == b[:2] and np.array_equal(a[2], b[2]) for a, b in zip(live, plain))


def test_the_linear_algebra_shortcuts_are_numpys_own_results():
    """svd and det through NumPy's gufuncs directly equal np.linalg.svd / det bit for bit; what the
    shortcut does not take (NaN, other dtypes) goes to NumPy itself, which raises as before."""
    from microexpr.measure.align import det, svd

    rng = np.random.default_rng(2)
    for shape in ((3, 3), (2, 2), (3, 3)):
        for _ in range(200):
            a = rng.normal(size=shape) * rng.choice([1e-6, 1.0, 1e4])
            u, s, vt = svd(a)
            u0, s0, vt0 = np.linalg.svd(a)
            assert np.array_equal(u, u0) and np.array_equal(s, s0) and np.array_equal(vt, vt0)
            assert det(a) == np.linalg.det(a)
    strided = rng.normal(size=(4, 4))[:3, :3]  # a view, as the head pose's rotation block is
    assert all(np.array_equal(x, y) for x, y in zip(svd(strided), np.linalg.svd(strided)))
    with pytest.raises(np.linalg.LinAlgError):
        svd(np.full((3, 3), np.nan))
    assert all(
        np.array_equal(x, y) for x, y in zip(svd(np.eye(3, dtype=np.float32)), np.linalg.svd(np.eye(3)))
    )


def _plain_similarity_fit(src, dst):
    """The Umeyama fit as first written (np.linalg throughout)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(len(s))
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var = (a**2).sum() / len(src)
    scale = float((s * d).sum() / var) if var > 0 else 1.0
    return scale, r, mu_d - scale * mu_s @ r.T


def _plain_eye_in_head(landmarks):
    """Eye-in-head gaze as first written."""
    from microexpr.measure.gaze import _EYES, EYEBALL_RADIUS_EYE_WIDTHS

    p = np.asarray(landmarks, np.float64)[:, :2]
    angles = []
    for left_corner, right_corner, upper, lower, iris in _EYES:
        a, b = p[left_corner], p[right_corner]
        width = np.linalg.norm(b - a)
        if width < 1e-6:
            continue
        ex = (b - a) / width
        ey = np.array([-ex[1], ex[0]])
        centre = 0.5 * (a + b)
        centre_y = 0.5 * (p[list(upper)].mean(0) + p[list(lower)].mean(0))
        off = p[iris] - centre
        dx = off @ ex / width
        dy = (p[iris] - centre_y) @ ey / width
        r = EYEBALL_RADIUS_EYE_WIDTHS
        angles.append((np.arcsin(np.clip(dx / r, -1, 1)), np.arcsin(np.clip(dy / r, -1, 1))))
    if not angles:
        return np.array([np.nan, np.nan])
    return np.mean(angles, axis=0)


def _bits(x) -> bytes:
    return np.asarray(x, np.float64).tobytes()


def test_the_face_measures_fast_paths_equal_the_plain_computations(frames, face_model):
    """On real faces (neutral to smile) and on made-up ones: the fixed-target fits, the crop transform, the
    head pose, the gaze (both eyes, one eye, none) and each frame's FaceMeasures are bit-identical to the
    code as first written."""
    from microexpr.calibrate import frontal_reference
    from microexpr.facs import LM
    from microexpr.measure.align import STABLE, FixedTarget, align_to, iod
    from microexpr.measure.frame import FaceMeasurer
    from microexpr.measure.gaze import eye_in_head
    from microexpr.measure.geometry import features_aligned
    from microexpr.measure.motion import _TEMPLATE, crop_transform
    from microexpr.measure.pose import euler_from_rotation, rotation_translation

    with FaceLandmarker(face_model) as lm:
        faces = [lm.detect(image, t_s)[0] for image, t_s in frames]
    rng = np.random.default_rng(3)
    ref = frontal_reference(faces[0].landmarks_px, faces[0].transform)
    target, crop_target = FixedTarget(ref[STABLE]), FixedTarget(_TEMPLATE)
    measurer = FaceMeasurer(lambda fid, f: ref)
    for k, f in enumerate(faces):
        lm64 = np.asarray(f.landmarks_px, np.float64)
        for got, want in (
            (target.fit(lm64[STABLE]), _plain_similarity_fit(lm64[STABLE], ref[STABLE])),
            (crop_target.fit(lm64[STABLE, :2]), _plain_similarity_fit(lm64[STABLE, :2], _TEMPLATE)),
        ):
            assert got[0] == want[0] and np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])
        s, r, t = _plain_similarity_fit(lm64[STABLE, :2], _TEMPLATE)
        assert np.array_equal(crop_transform(f.landmarks_px), np.hstack([s * r, t[:, None]]))
        # the head pose as first written: np.linalg.svd / det
        m = np.asarray(f.transform, np.float64)
        u, _, vt = np.linalg.svd(m[:3, :3])
        rot = u @ vt
        if np.linalg.det(rot) < 0:
            rot = u @ np.diag([1.0, 1.0, -1.0]) @ vt
        flip = np.diag([1.0, -1.0, -1.0])
        got_r, got_t = rotation_translation(f.transform)
        assert np.array_equal(got_r, flip @ rot @ flip) and np.array_equal(got_t, flip @ m[:3, 3] * 10.0)
        assert _bits(eye_in_head(f.landmarks_px)) == _bits(_plain_eye_in_head(f.landmarks_px))
        # the whole measure: alignment, geometry, confidence and gaze from the plain functions
        got = measurer.measure(f.with_id(0), k / 30.0, (30.0, 120.0, 200.0))
        aligned = align_to(f.landmarks_px, ref)
        resid = float(np.sqrt(((aligned[STABLE] - ref[STABLE]) ** 2).sum(1).mean()) / iod(ref))
        assert _bits(got.geo) == _bits(features_aligned(aligned, iod(ref)))
        assert got.confidence == float(1.0 * (1.0 - np.clip((resid - 0.02) / 0.10, 0.0, 1.0)))
        pitch, yaw, _ = euler_from_rotation(got_r)
        assert _bits(got.gaze) == _bits(_plain_eye_in_head(f.landmarks_px) + np.array([-yaw, pitch]))
    # made-up faces: noise, one eye collapsed (one eye's mean), both collapsed (NaN)
    for _ in range(50):
        pts = faces[0].landmarks_px + rng.normal(scale=3.0, size=faces[0].landmarks_px.shape).astype(
            np.float32
        )
        assert _bits(eye_in_head(pts)) == _bits(_plain_eye_in_head(pts))
    one = faces[0].landmarks_px.copy()
    one[LM.EYE_INNER_R] = one[LM.EYE_OUTER_R]
    both = one.copy()
    both[LM.EYE_INNER_L] = both[LM.EYE_OUTER_L]
    for pts in (one, both):
        assert _bits(eye_in_head(pts)) == _bits(_plain_eye_in_head(pts))
    assert np.isnan(eye_in_head(both)).all() and not np.isnan(eye_in_head(one)).any()


def test_the_one_face_tracker_shortcut_gives_the_hungarian_ids(frames, face_model, monkeypatch):
    """One face and one track skip the assignment solver: the ids, and the tracks they leave, are those the
    Hungarian method gives, through a face that moves, jumps away, is lost and comes back."""
    from microexpr.track import ids as ids_module
    from microexpr.track.ids import _PAIRS, _SHAPE_POINTS, FaceTracker, face_centre_and_width, face_shape
    from microexpr.types import FaceObservation

    solved = []
    solver = ids_module.linear_sum_assignment
    monkeypatch.setattr(ids_module, "linear_sum_assignment", lambda c: solved.append(c.shape) or solver(c))

    with FaceLandmarker(face_model) as lm:
        base = [lm.detect(image, t_s)[0] for image, t_s in frames[:20]]
    fast, plain = FaceTracker(), FaceTracker()
    plain.one_pair_fast = False
    t = 0.0
    seen = set()
    for k in range(160):
        f = base[k % len(base)]
        pts = f.landmarks_px.copy()
        pts[:, 0] += 3.0 * k + (400.0 if 60 <= k < 70 else 0.0)  # a drift, then a jump far away
        t += 4.0 if k in (90, 120) else 1 / 30  # two losses: one longer than max_lost_s
        faces = [] if 100 <= k < 110 else [FaceObservation(-1, pts, f.blendshapes, f.transform)]
        # the face's shape and centre as first written (np.linalg.norm, np.ptp)
        q = np.asarray(pts, np.float64)[list(_SHAPE_POINTS), :2]
        shape = np.linalg.norm(q[_PAIRS[:, 0]] - q[_PAIRS[:, 1]], axis=1) / max(
            np.linalg.norm(q[0] - q[3]), 1e-6
        )
        assert face_shape(pts).tobytes() == shape.tobytes()
        centre, width = face_centre_and_width(pts)
        p64 = np.asarray(pts, np.float64)
        assert centre.tobytes() == p64[:, :2].mean(0).tobytes() and width == float(
            max(np.ptp(p64[:, 0]), 1.0)
        )
        n_solved = len(solved)
        live_tracks = len([x for x in fast._tracks if t - x.last_t <= fast.max_lost_s])
        a = fast.update(t, faces)
        # no solver call without faces or tracks, and (the shortcut) for one face and one track
        assert (len(solved) == n_solved) == (
            not faces or live_tracks == 0 or (len(faces), live_tracks) == (1, 1)
        )
        b = plain.update(t, faces)
        assert [x.face_id for x in a] == [x.face_id for x in b]
        seen.update(x.face_id for x in a)
        assert len(fast._tracks) == len(plain._tracks)
        for x, y in zip(fast._tracks, plain._tracks):
            assert (x.face_id, x.hits, x.last_t, x.width) == (y.face_id, y.hits, y.last_t, y.width)
            assert all(
                np.array_equal(p, q)
                for p, q in ((x.centre, y.centre), (x.velocity, y.velocity), (x.shape, y.shape))
            )
    assert len(seen) >= 3  # the jump and the long loss made new ids: every branch was taken
    assert sum(shape == (1, 1) for shape in solved) > 100  # the plain tracker solved those one-pair frames
    assert any(shape == (1, 2) for shape in solved)  # two tracks for one face: both trackers solved it


def test_the_flow_median_from_a_window_is_np_median(frames, face_model):
    """The region flow's medians found near the last ones are np.median's, float32 bit for bit, over real
    flows (neutral to smile) and made-up ones whose median jumps (the window misses), with -0.0 and 0.0
    ties, and with a NaN (np.median's NaN)."""
    with FaceLandmarker(face_model) as lm:
        raws = [detect_raw(lm, image, t_s)[0][0] for image, t_s in frames]
    meter = FlowMeter(raws[0][4], to_crop(raws[0][0], raws[0][5]))
    flows = [meter._dis.calc(meter.neutral, r[4], None) for r in raws]
    rng = np.random.default_rng(4)
    n = CROP_PX * CROP_PX
    for k in range(60):
        f = rng.normal(loc=0.3 * (k % 7), scale=rng.choice([0.01, 0.5, 3.0]), size=(CROP_PX, CROP_PX, 2))
        flows.append(f.astype(np.float32))
    zeros = np.zeros((CROP_PX, CROP_PX, 2), np.float32)
    zeros.reshape(-1)[rng.choice(2 * n, n, replace=False)] = -0.0
    flows += [zeros, zeros.copy(), flows[5].copy(), flows[5].copy()]
    flows[-2][3, 4, 1] = np.nan
    near = []
    window = meter._near_median
    meter._near_median = lambda c: near.append(window(c)) or near[-1]
    for f in flows:
        mu, mv = meter._medians(f)
        want = np.median(f[..., 0].ravel()), np.median(f[..., 1].ravel())
        assert np.float32(mu).tobytes() == np.float32(want[0]).tobytes()
        assert np.float32(mv).tobytes() == np.float32(want[1]).tobytes()
    hits = sum(x is not None for x in near)
    assert hits > len(flows)  # the window found most medians (two a frame) ...
    assert hits < len(near)  # ... and missed some, which the full partition took


def _plain_crop_measures(image, landmarks):
    """Crop measures as first written (six reductions for the box, NumPy's mean for the luminance)."""
    from microexpr.measure.quality import CROP_PX as Q_CROP_PX

    h, w = image.shape[:2]
    x0, y0 = landmarks[:, 0].min(), landmarks[:, 1].min()
    x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
    mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    box = (
        int(max(0, np.floor(x0 - mx))),
        int(max(0, np.floor(y0 - my))),
        int(min(w, np.ceil(x1 + mx))),
        int(min(h, np.ceil(y1 + my))),
    )
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return 0.0, 0.0, 0.0
    crop = cv2.cvtColor(np.ascontiguousarray(image[box[1] : box[3], box[0] : box[2]]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(crop, (Q_CROP_PX, Q_CROP_PX), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(small, cv2.CV_64F).var())
    return sharp, float(crop.mean()), float(landmarks[:, 1].max() - landmarks[:, 1].min())


def test_crop_measures_equal_the_plain_computation(frames, face_model):
    """Sharpness, luminance and face size (and the face box) are those the code as first written gives, on
    real faces, bright and dark frames, a face cut by the frame's edge and a face too small to measure."""
    from microexpr.measure.quality import face_box

    with FaceLandmarker(face_model) as lm:
        faces = [(image, lm.detect(image, t_s)[0].landmarks_px) for image, t_s in frames[::3]]
    cases = list(faces)
    image, pts = faces[0]
    cases.append((np.full_like(image, 255), pts))
    cases.append((np.zeros_like(image), pts))
    edge = pts.copy()
    edge[:, 0] -= 250.0  # the face box runs off the frame's left edge
    cases.append((image, edge))
    tiny = np.full_like(pts, 10.0)  # a box under 2 px: no measures
    cases.append((image, tiny))
    for image, pts in cases:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        want = _plain_crop_measures(image, pts)
        assert crop_measures(image, pts, grey) == want and crop_measures(image, pts) == want
        x0, y0 = pts[:, 0].min(), pts[:, 1].min()
        x1, y1 = pts[:, 0].max(), pts[:, 1].max()
        assert face_box(pts, 640, 480, margin=0.0) == (
            int(max(0, np.floor(x0))),
            int(max(0, np.floor(y0))),
            int(min(640, np.ceil(x1))),
            int(min(480, np.ceil(y1))),
        )
    assert _plain_crop_measures(*cases[-1]) == (0.0, 0.0, 0.0) and _plain_crop_measures(*cases[-2])[1] > 0


def test_calibrating_in_the_background_gives_the_same_warm_up_and_frames(smile_video):
    """Live mode calibrates each face in a thread of its own, so the frames behind a calibration are not held
    up: the warm-up track then also covers the frames that came meanwhile, with the same numbers as the
    foreground calibration gives them; ``settle`` completes a calibration still running when a stream ends."""
    import time

    from microexpr.io import open_source
    from microexpr.pipeline import FrameAnalyzer
    from microexpr.track.observe import observe_in_process

    with open_source(smile_video) as src:
        raw = [
            (i, t, faces)
            for i, t, _n, faces, _e in observe_in_process(src, model_path=None, max_faces=1, mode="video")
        ]
    fg, bg = FrameAnalyzer(), FrameAnalyzer(calibrate_in_background=True)
    fg_frames = [fg.process(i, t, faces) for i, t, faces in raw]
    (fg_track,) = [w for fr in fg_frames for w in fr.warmup]
    bg_frames, settled = [], ()
    for i, t, faces in raw:
        bg_frames.append(bg.process(i, t, faces))
        if bg._pending:  # hold the stream here until the calibration is done: frames come meanwhile
            time.sleep(0.3)
        if i == len(raw) - 1:
            settled = bg.settle()
    tracks = [w for fr in bg_frames for w in fr.warmup] + list(settled)
    assert len(tracks) == 1 and len(tracks[0].frames) > len(fg_track.frames)  # it ran past the warm-up
    n = len(fg_track.frames)
    assert np.array_equal(tracks[0].au[:n], fg_track.au) and np.array_equal(
        tracks[0].neutral, fg_track.neutral
    )
    done = int(np.flatnonzero([len(fr.warmup) > 0 for fr in bg_frames])[0])
    later = {fr.index: fr for fr in fg_frames}
    for k, i in enumerate(tracks[0].frames):  # the frames calibrated late: what the foreground run gave them
        if i >= int(fg_track.frames[-1]):
            want = later[int(i)].faces[0].au
            assert np.array_equal(tracks[0].au[k], [want[c] for c in want])
    for fr in bg_frames[done + 1 :]:  # and after: the same frames as the foreground run's
        assert fr.faces[0].au == later[fr.index].faces[0].au
    early = FrameAnalyzer(calibrate_in_background=True)  # the stream ends while the calibration runs
    for i, t, faces in raw:
        early.process(i, t, faces)
        if early._pending:
            break
    (track,) = early.settle()
    assert np.array_equal(track.frames, fg_track.frames) and np.array_equal(track.au, fg_track.au)
