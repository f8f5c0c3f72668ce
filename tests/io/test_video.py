"""Video files: formats, times from timestamps (VFR, B-frames), selection, seeking, and bad input."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from microexpr.errors import InputError, MicroexprError, OptionError
from microexpr.io import open_source

from .conftest import (
    H,
    W,
    identify,
    truncate,
    write_audio_only,
    write_empty_video,
    write_packets,
    write_video,
)

FORMATS = [
    ("clip.mp4", "libx264", "h264"),
    ("clip.mov", "libx264", "h264"),
    ("clip.mkv", "libx264", "h264"),
    ("clip.avi", "mjpeg", "mjpeg"),
    ("clip.webm", "libvpx", "vp8"),
    ("clip.webm", "libvpx-vp9", "vp9"),
    ("clip.wmv", "wmv2", "wmv2"),
]


def _message(excinfo: pytest.ExceptionInfo[MicroexprError], path: Path) -> str:
    msg = str(excinfo.value)
    assert str(path) in msg and "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.mark.parametrize(("name", "encoder", "codec"), FORMATS, ids=[f[2] + "-" + f[0] for f in FORMATS])
def test_every_container_yields_all_frames_in_order_with_their_times(tmp_path, name, encoder, codec):
    path = write_video(tmp_path / name, codec=encoder, n=24)
    with open_source(path) as src:
        frames = list(src)
        assert src.kind == "video"
        assert src.warnings == []
        assert (src.info.fps, src.info.frame_count, src.info.width, src.info.height) == (30.0, 24, W, H)
        assert src.info.codec == codec
        assert src.info.duration_s == pytest.approx(24 / 30, abs=1e-3)
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
    assert [f.index for f in frames] == list(range(24))
    assert [identify(f.image, 24) for f in frames] == list(range(24))  # presentation order, not decode order
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(24) / 30, atol=1e-3)
    first = frames[0]
    assert first.image.shape == (H, W, 3) and first.image.dtype == np.uint8 and first.name == ""
    assert not first.image.flags.writeable


@pytest.mark.parametrize("fps", [15, 240])
def test_any_frame_rate_gives_times_one_period_apart(tmp_path, fps):
    path = write_video(tmp_path / f"fps{fps}.mp4", n=30, fps=fps)
    with open_source(path) as src:
        t = np.array([f.t_s for f in src])
        assert src.info.fps == fps
    assert len(t) == 30
    np.testing.assert_allclose(np.diff(t), 1 / fps, rtol=1e-3)


def test_h264_with_b_frames_timestamps_equal_decoded_times(mp4):
    with av.open(str(mp4)) as c:  # the file really is reordered: decode order != presentation order
        packets = [p for p in c.demux(video=0) if p.size]
        assert any(p.pts != p.dts for p in packets)
    with open_source(mp4) as src:
        decoded = [f.t_s for f in src]
        assert np.array_equal(src.timestamps(), decoded)
        assert src.timestamps().dtype == np.float64
    assert decoded == sorted(decoded)


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_variable_frame_rate_times_are_the_muxed_timestamps(tmp_path, ext):
    steps = np.random.default_rng(7).integers(15, 90, 29)  # ms between frames, 11 to 67 fps
    pts = np.concatenate([[0], np.cumsum(steps)]).tolist()
    path = write_video(tmp_path / f"vfr.{ext}", n=30, pts=pts, time_base=Fraction(1, 1000))
    with open_source(path) as src:
        frames = list(src)
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
        assert src.warnings == []
    np.testing.assert_allclose([f.t_s for f in frames], np.array(pts) / 1000, atol=1e-9)
    assert [identify(f.image, 30) for f in frames] == list(range(30))


def test_h264_in_avi_whose_packets_carry_decode_order_times(tmp_path):
    path = write_video(tmp_path / "old.avi", n=30, options={"g": "12"})  # AVI stores no presentation times
    with av.open(str(path)) as c:
        decoded_pts = [f.pts for f in c.decode(video=0)]
    assert decoded_pts != sorted(decoded_pts)  # what a naive reader would take for times
    with open_source(path) as src:
        frames = list(src)
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
        assert [(f.index, f.t_s) for f in src.iter_range(14, 20)] == [(f.index, f.t_s) for f in frames[14:20]]
        assert src.warnings == []
    assert [identify(f.image, 30) for f in frames] == list(range(30))
    assert np.all(np.diff([f.t_s for f in frames]) > 0)


def test_raw_h264_stream_without_timestamps_uses_fps(tmp_path):
    path = write_video(tmp_path / "raw.h264", n=20)
    with open_source(path, fps=50) as src:
        frames = list(src)
        assert src.info.fps == 50.0
        assert len(src.warnings) == 1 and "20 of 20 frames have a missing timestamp" in src.warnings[0]
    assert [f.t_s for f in frames] == pytest.approx(np.arange(20) / 50)
    assert [identify(f.image, 20) for f in frames] == list(range(20))


def test_start_end_select_frames_by_time_and_keep_file_indices(tmp_path):
    path = write_video(tmp_path / "clip.mp4", n=60, options={"g": "30"})
    with open_source(path, start_s=0.5, end_s=1.0) as src:
        frames = list(src)
        assert src.first_index == 15 and src.info.frame_count == 15
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
    assert [f.index for f in frames] == list(range(15, 30))
    assert all(0.5 <= f.t_s < 1.0 for f in frames)
    assert [identify(f.image, 60) for f in frames] == list(range(15, 30))
    with open_source(path, start_s=1.5) as src:  # open end
        assert [f.index for f in src] == list(range(45, 60))
    with open_source(path, end_s=100.0) as src:  # end beyond the video: everything
        assert src.info.frame_count == 60


@pytest.mark.parametrize(
    ("start_s", "end_s", "expected"),
    [
        (-1.0, None, "--start must be a number of seconds >= 0, but got -1.0"),
        (None, -2, "--end must be a number of seconds >= 0, but got -2"),
        (3.0, 3.0, "--start 3 s must be before --end 3 s"),
        (5.0, 1.0, "--start 5 s must be before --end 1 s"),
        (12.0, None, "--start 12 s is at or beyond the end of {path} (duration 1.333 s"),
        (0.51, 0.52, "select no frame of {path}"),
    ],
)
def test_impossible_selections_raise_option_errors_naming_values_and_duration(mp4, start_s, end_s, expected):
    with pytest.raises(OptionError) as e:
        open_source(mp4, start_s=start_s, end_s=end_s)
    assert expected.format(path=mp4) in str(e.value)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm"])
def test_iter_range_equals_the_same_slice_of_a_full_pass(tmp_path, ext):
    codec = "libvpx" if ext == "webm" else "libx264"
    path = write_video(tmp_path / f"gop30.{ext}", codec=codec, n=100, options={"g": "30"})
    with open_source(path) as src:
        full = list(src)
        assert [f.index for f in full] == list(range(100))
        for first, stop in [(35, 70), (59, 61), (29, 33), (0, 10), (90, 100), (95, 300), (40, 40)]:
            part = list(src.iter_range(first, stop))
            want = full[first:stop]
            assert [(f.index, f.t_s) for f in part] == [(f.index, f.t_s) for f in want], (first, stop)
            for got, ref in zip(part, want):
                assert np.array_equal(got.image, ref.image), (first, stop, got.index)


class _CountingContainer:
    """Wraps a PyAV input container to count the packets read from it."""

    read = 0

    def __init__(self, container):
        self._c = container

    def __getattr__(self, name):
        return getattr(self._c, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._c.close()

    def demux(self, *args, **kwargs):
        for packet in self._c.demux(*args, **kwargs):
            _CountingContainer.read += 1
            yield packet


def test_iter_range_seeks_instead_of_decoding_from_the_start(tmp_path, monkeypatch):
    path = write_video(tmp_path / "gop10.mp4", n=90, options={"g": "10", "sc_threshold": "0"})
    _CountingContainer.read = 0
    with open_source(path) as src:
        real_open = av.open
        monkeypatch.setattr(av, "open", lambda *a, **k: _CountingContainer(real_open(*a, **k)))
        part = list(src.iter_range(75, 80))
    assert [f.index for f in part] == list(range(75, 80))
    assert [identify(f.image, 90) for f in part] == list(range(75, 80))
    assert _CountingContainer.read <= 20  # from the keyframe at 70, not from frame 0


def test_iter_range_within_a_start_end_selection(tmp_path):
    path = write_video(tmp_path / "clip.mp4", n=60, options={"g": "30"})
    with open_source(path, start_s=1.0) as src:
        full = list(src)
        part = list(src.iter_range(0, 40))  # clipped to the selection
        assert [f.index for f in part] == [f.index for f in full][:10] == list(range(30, 40))


def test_display_rotation_is_applied(tmp_path):
    path = write_video(tmp_path / "phone.mp4", n=3, rotation=90)
    with open_source(path) as src:
        frames = list(src)
        assert (src.info.width, src.info.height) == (H, W)
    assert frames[0].image.shape == (W, H, 3)
    assert frames[0].image.flags.c_contiguous
    upright = np.rot90(frames[0].image, -1)
    assert identify(upright, 3) == 0


def test_non_monotonic_timestamps_are_repaired_with_one_summary_warning(tmp_path, caplog):
    # frame 3 repeats 80 ms, frame 7 goes back from 240 to 220 ms
    pts = [0, 40, 80, 80, 160, 200, 240, 220, 320, 360, 400, 440]
    path = write_packets(tmp_path / "backwards.mkv", pts)
    with caplog.at_level(logging.WARNING, logger="microexpr.io"), open_source(path) as src:
        frames = list(src)
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
        warnings = list(src.warnings)
    t = [f.t_s for f in frames]
    assert len(frames) == 12 and [f.index for f in frames] == list(range(12))
    np.testing.assert_allclose(t, np.arange(12) * 0.04, atol=1e-9)  # 80 -> 80 + 40, 220 -> 240 + 40
    assert np.all(np.diff(t) > 0)
    assert len(warnings) == 1
    assert "2 of 12 frames" in warnings[0] and "repaired" in warnings[0] and str(path) in warnings[0]
    assert [r.getMessage() for r in caplog.records if r.name == "microexpr.io"] == warnings


def test_iter_range_on_non_monotonic_timestamps_decodes_from_the_start(tmp_path):
    path = write_packets(tmp_path / "backwards.mkv", [0, 40, 80, 80, 160, 200, 240, 220, 320, 360, 400, 440])
    with open_source(path) as src:
        full = list(src)
        assert [(f.index, f.t_s) for f in src.iter_range(5, 9)] == [(f.index, f.t_s) for f in full[5:9]]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.mp4"
    with pytest.raises(InputError) as e:
        open_source(path)
    assert _message(e, path).endswith("not found")


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"hello, I am a text file\n" * 20, "not a video file ("), (b"", "is empty (0 bytes)")],
)
def test_a_file_that_is_not_a_video(tmp_path, content, expected):
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError) as e:
        open_source(path)
    assert expected in _message(e, path)


def test_truncated_mp4_without_its_index_cannot_be_decoded(mp4):
    truncate(mp4)  # the moov atom comes last: cut at half, nothing can be located
    with pytest.raises(InputError) as e:
        open_source(mp4)
    assert "truncated or damaged" in _message(e, mp4)


def test_truncated_mp4_with_index_first_yields_what_it_has_and_warns(tmp_path):
    path = write_video(tmp_path / "faststart.mp4", n=40, container_options={"movflags": "+faststart"})
    truncate(path)
    with open_source(path) as src:
        frames = list(src)
        warnings = src.warnings
    assert 0 < len(frames) < 40
    assert [f.index for f in frames] == list(range(len(frames)))
    assert warnings and all(str(path) in w and "(file truncated or damaged?)" in w for w in warnings)
    # frame threading may lose the frames in flight at the cut; the last warning counts what came out
    assert (
        f"only {len(frames)} of the 40 frames" in warnings[-1]
        or f"after {len(frames)} frames" in warnings[-1]
    )


@pytest.mark.parametrize(("name", "encoder"), [("cut.avi", "mjpeg"), ("cut.mkv", "libx264")])
def test_truncated_video_yields_the_frames_before_the_cut_and_warns(tmp_path, name, encoder):
    path = truncate(write_video(tmp_path / name, codec=encoder, n=40))
    with open_source(path) as src:
        frames = list(src)
        warnings = src.warnings
        assert src.info.frame_count == len(frames)
    assert 5 < len(frames) < 40
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(warnings) == 1 and "truncated or damaged" in warnings[0] and str(path) in warnings[0]


def test_damaged_bytes_mid_stream_never_raise(tmp_path):
    path = write_video(tmp_path / "damaged.avi", codec="mjpeg", n=60)
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(3).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    for off in range(int(len(data) * 0.4), int(len(data) * 0.6), 97):
        data[off : off + 8] = noise[off : off + 8]
    path.write_bytes(bytes(data))
    with open_source(path) as src:
        frames = list(src)
        assert src.warnings
    assert 20 < len(frames) < 60
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert np.all(np.diff([f.t_s for f in frames]) > 0)


def test_video_with_no_frames(tmp_path):
    path = write_empty_video(tmp_path / "empty.avi")
    with pytest.raises(InputError) as e:
        open_source(path)
    assert "has no video frames" in _message(e, path)


def test_audio_only_file(tmp_path):
    path = write_audio_only(tmp_path / "voice.m4a")
    with pytest.raises(InputError) as e:
        open_source(path)
    assert "has no video stream" in _message(e, path)


def test_images_flag_refuses_a_video(mp4):
    with pytest.raises(InputError) as e:
        open_source(mp4, images=True)
    assert "--images" in _message(e, mp4)


def test_fps_option_does_not_change_a_videos_times(mp4):
    with open_source(mp4, fps=200) as src:
        t = src.timestamps()
        assert src.info.fps == 30.0
        assert len(src.warnings) == 1 and "--fps 200 ignored" in src.warnings[0]
    np.testing.assert_allclose(t, np.arange(40) / 30, atol=1e-3)


def test_closing_the_source_stops_its_iterations(mp4):
    with open_source(mp4) as src:
        frames = iter(src)
        next(frames)
    assert next(frames, None) is None
