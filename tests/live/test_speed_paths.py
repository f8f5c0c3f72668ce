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
    collector (and the thread switch interval it may set) as it found them."""
    import gc
    import sys

    from microexpr.live import open_live, run_live

    assert gc.get_freeze_count() == 0
    switch = sys.getswitchinterval()
    seen = []

    def on_frame(fr, events, latency_ms):
        if fr is not None:
            seen.append((gc.get_freeze_count(), sys.getswitchinterval()))

    st = run_live(open_live(str(smile_video)), on_frame=on_frame, switch_interval_s=0.001)
    assert st.frames == 90 and len(seen) == 90
    assert all(frozen > 10_000 for frozen, _ in seen)  # the imported libraries' objects, not a handful
    assert all(si == pytest.approx(0.001) for _, si in seen)
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == switch
