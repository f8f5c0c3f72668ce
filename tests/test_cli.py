"""The `microexpr` command as a user runs it: a real process, real files, one-line errors, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from tests.cli_checks import assert_one_line_error


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "microexpr", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_analyze_writes_the_output_folder(smile_video, tmp_path):
    p = run("analyze", str(smile_video), "-o", str(tmp_path / "out"), "--quiet")
    assert p.returncode == 0, p.stderr
    f = pd.read_parquet(tmp_path / "out" / "smile" / "frames.parquet")
    assert len(f) == 90 and f["AU12_r"].max() > 1.5
    assert (tmp_path / "out" / "smile" / "report.html").stat().st_size > 100_000


def test_no_report_and_blur_faces(smile_video, tmp_path):
    p = run("analyze", str(smile_video), "-o", str(tmp_path / "a"), "--quiet", "--no-report")
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "a" / "smile" / "report.html").exists()
    p = run("analyze", str(smile_video), "-o", str(tmp_path / "b"), "--quiet", "--blur-faces")
    assert p.returncode == 0, p.stderr
    assert "pixelated (--blur-faces)" in (tmp_path / "b" / "smile" / "report.html").read_text()


def test_log_json_reports_start_and_done(smile_video, tmp_path):
    p = run(
        "analyze",
        str(smile_video),
        "-o",
        str(tmp_path),
        "--log-json",
        "--save-profile",
        str(tmp_path / "s.json"),
    )
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done" and events[-1]["rows"] == 90
    assert json.loads((tmp_path / "s.json").read_text())["format"] == "microexpr-profile"


def test_missing_file(tmp_path, face_model):
    assert_one_line_error(
        run("analyze", str(tmp_path / "nope.mp4"), "-o", str(tmp_path)), "nope.mp4", "not found"
    )


def test_text_file_named_mp4(tmp_path, face_model):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    assert_one_line_error(run("analyze", str(bad), "-o", str(tmp_path / "o")), "notes.mp4")
    assert not (tmp_path / "o" / "notes").exists()


def test_truncated_mp4(smile_video, tmp_path, face_model):
    data = smile_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    p = run("analyze", str(cut), "-o", str(tmp_path / "o"), "--quiet")
    assert "Traceback" not in p.stderr
    if p.returncode == 0:  # what could be decoded was analysed, with a warning
        assert "warning" in p.stderr.lower()
        assert (tmp_path / "o" / "cut" / "frames.parquet").exists()
    else:
        assert_one_line_error(p, "cut.mp4")
        assert not (tmp_path / "o" / "cut").exists()


def test_zero_frame_video(tmp_path, face_model):
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
    assert_one_line_error(run("analyze", str(empty), "-o", str(tmp_path / "o")), "empty.mp4")


def test_no_face_is_a_warning_and_success_0_rows(no_face_video, tmp_path):
    p = run("analyze", str(no_face_video), "-o", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "no face" in p.stderr and "Traceback" not in p.stderr
    f = pd.read_csv(tmp_path / "noface" / "frames.csv")
    assert len(f) == 30 and (f["success"] == 0).all()


def test_image_folder_with_a_non_image(tmp_path, face_model):
    from PIL import Image

    from microexpr.synth import sample_face

    seq = tmp_path / "EP01"
    seq.mkdir()
    img = Image.fromarray(sample_face("astronaut", size=(320, 240), iod_px=60).image)
    for k in range(1, 13):
        img.save(seq / f"img{k}.jpg")
    (seq / "notes.txt").write_text("coder: A")
    p = run("analyze", str(seq), "--fps", "200", "-o", str(tmp_path / "o"), "--quiet")
    assert p.returncode == 0, p.stderr
    assert "notes.txt" in p.stderr
    f = pd.read_parquet(tmp_path / "o" / "EP01" / "frames.parquet")
    assert len(f) == 12 and np.allclose(f["timestamp"].diff().dropna(), 1 / 200)
    p = run("analyze", str(seq), "-o", str(tmp_path / "o"))  # no --fps for a sequence
    assert_one_line_error(p, "--fps")


def test_unwritable_output_folder(smile_video, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(run("analyze", str(smile_video), "-o", str(blocker / "out")), "output folder")


def test_unknown_neutral_range(smile_video, tmp_path):
    assert_one_line_error(
        run("analyze", str(smile_video), "--neutral", "40-50", "-o", str(tmp_path)), "--neutral"
    )
    assert_one_line_error(
        run("analyze", str(smile_video), "--neutral", "abc", "-o", str(tmp_path)), "--neutral"
    )
    assert not (tmp_path / "smile").exists()


@pytest.mark.parametrize("args", [["models", "info"], ["--version"]])
def test_small_commands(args, face_model):
    p = run(*args)
    assert p.returncode == 0 and p.stdout.strip(), p.stderr


def test_the_summary_names_the_strongest_au(smile_video, tmp_path):
    p = run("analyze", str(smile_video), "-o", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "face 0: strongest AUs AU12" in " ".join(p.stdout.split())
