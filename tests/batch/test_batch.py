"""`microexpr batch` end to end: layout, the summary table, skipping, failures, resuming a killed run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from microexpr import analyze_video
from microexpr.batch import BatchOptions, find_inputs, run_batch
from microexpr.batch.ledger import content_key
from microexpr.errors import InputError, OptionError

EXE = [sys.executable, "-m", "microexpr"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=timeout)


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "batch.csv", dtype={"error": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory, clips, image_sequence) -> Path:
    """in/x/clip.mp4 and in/y/clip.mp4 (same stem, different videos), in/seq/EP01/*.png, a broken video."""
    root = tmp_path_factory.mktemp("tree") / "in"
    (root / "x").mkdir(parents=True)
    (root / "y").mkdir()
    shutil.copy(clips["a"], root / "x" / "clip.mp4")
    shutil.copy(clips["b"], root / "y" / "clip.mp4")
    shutil.copytree(image_sequence, root / "seq" / "EP01")
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    (root / "notes.txt").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def first_run(tree, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("out")
    r = _cli("batch", str(tree), "-o", str(out), "--workers", "2", "--fps", "30", "--no-report")
    return out, r


def test_a_folder_gives_each_input_analyze_outputs_in_a_mirrored_layout(tree, first_run):
    out, r = first_run
    assert r.returncode == 1, r.stderr  # one input failed: the exit says so
    assert "Traceback" not in r.stderr
    t = _table(out).set_index("input")
    assert list(_table(out).columns) == [
        "input", "status", "frames", "faces", "events", "seconds", "error", "output"
    ]  # fmt: skip
    assert set(t.index) == {str(tree / p) for p in ("broken.mp4", "x/clip.mp4", "y/clip.mp4", "seq/EP01")}
    assert t.loc[str(tree / "broken.mp4"), "status"] == "failed"
    assert "broken.mp4" in t.loc[str(tree / "broken.mp4"), "error"]
    assert "broken.mp4" in r.stderr and "\n" not in t.loc[str(tree / "broken.mp4"), "error"]
    for rel, n in (("x/clip", 60), ("y/clip", 60), ("seq/EP01", 36)):
        row = t.loc[str(tree / (rel + (".mp4" if "clip" in rel else "")))]
        assert row["status"] == "ok" and row["frames"] == n and row["faces"] == 1 and row["events"] >= 1
        for name in ("frames.parquet", "frames.csv", "events.csv", "events.json", "meta.json"):
            assert (out / rel / name).is_file(), (rel, name)
    # same stem, different folders: two different analyses, neither overwrote the other
    fx, fy = (pd.read_parquet(out / d / "clip" / "frames.parquet") for d in ("x", "y"))
    assert not fx["x_1"].equals(fy["x_1"])
    assert not list(out.glob("**/.*.partial"))


def test_batch_outputs_equal_a_single_analyze(tree, first_run):
    out, _ = first_run
    direct = analyze_video(tree / "x" / "clip.mp4", workers=1)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "x" / "clip" / "frames.parquet"), direct.frames)
    got = pd.read_csv(out / "x" / "clip" / "events.csv")
    assert len(got) == len(direct.events)
    assert got["apex_frame"].tolist() == direct.events["apex_frame"].tolist()


def test_a_second_run_skips_what_is_done_and_retries_failures_only_when_asked(tree, first_run, clips):
    out, _ = first_run
    before = (out / "x" / "clip" / "frames.parquet").stat().st_mtime_ns
    r = _cli("batch", str(tree), "-o", str(out), "--workers", "2", "--fps", "30", "--no-report", "-q")
    assert r.returncode == 1 and r.stdout == ""  # --quiet: nothing on stdout
    t = _table(out).set_index("input")
    assert (t["status"] == "skipped").sum() == 3
    assert t.loc[str(tree / "x/clip.mp4"), "frames"] == 60  # counts carried over from the marker
    assert t.loc[str(tree / "broken.mp4"), "status"] == "failed"
    assert (out / "x" / "clip" / "frames.parquet").stat().st_mtime_ns == before

    # the broken file is repaired: it is analysed again only with --retry-failed
    shutil.copy(clips["c"], tree / "broken.mp4")
    r = _cli("batch", str(tree), "-o", str(out), "--fps", "30", "--no-report", "-q")
    assert _table(out).set_index("input").loc[str(tree / "broken.mp4"), "status"] == "failed"
    r = _cli("batch", str(tree), "-o", str(out), "--fps", "30", "--no-report", "-q", "--retry-failed")
    assert r.returncode == 0, r.stderr
    t = _table(out).set_index("input")
    assert t.loc[str(tree / "broken.mp4"), "status"] == "ok"
    assert t.loc[str(tree / "broken.mp4"), "frames"] == 48
    assert (t["status"] == "skipped").sum() == 3

    # changed content is analysed again; so is everything when the parameters change
    shutil.copy(clips["c"], tree / "x" / "clip.mp4")
    run_batch(tree, out, BatchOptions(workers=1, analysis={"fps": 30.0}, report=False))
    t = _table(out).set_index("input")
    assert t.loc[str(tree / "x/clip.mp4"), "status"] == "ok"
    assert t.loc[str(tree / "x/clip.mp4"), "frames"] == 48
    assert (t["status"] == "skipped").sum() == 3
    shutil.copy(clips["a"], tree / "x" / "clip.mp4")
    shutil.copy(tree / "notes.txt", tree / "broken.mp4")  # leave the tree as the other tests expect


def test_content_key_covers_content_parameters_and_versions(tmp_path, clips):
    p = tmp_path / "v.mp4"
    shutil.copy(clips["a"], p)
    k = content_key(p, {"analysis": {"max_faces": 1}})
    assert k == content_key(p, {"analysis": {"max_faces": 1}})
    assert k != content_key(p, {"analysis": {"max_faces": 2}})
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte in the middle of a small file
    p.write_bytes(bytes(data))
    assert k != content_key(p, {"analysis": {"max_faces": 1}})
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 << 20))
    kb = content_key(big, {})
    with open(big, "r+b") as f:  # appended data changes size and the last MiB
        f.seek(0, 2)
        f.write(b"x")
    assert kb != content_key(big, {})


def test_a_manifest_gives_subjects_fps_and_neutral_and_bad_rows_fail_with_reasons(
    tmp_path, clips, image_sequence
):
    shutil.copy(clips["a"], tmp_path / "s01.mp4")
    shutil.copytree(image_sequence, tmp_path / "EP01")
    shutil.copytree(image_sequence, tmp_path / "EP02")
    hostile = "x" * 5000
    (tmp_path / "m.csv").write_text(
        "path,subject,fps,neutral\n"
        "s01.mp4,s01,,0-1\n"
        "EP01,s02,30,\n"
        "missing.mp4,s03,,\n"
        "s01.mp4,s04,abc,\n"
        "EP01,s05,30,5-2\n"
        ",s06,,\n"
        f"{hostile},s07,,\n"
        "EP02,s08,,\n"
        "EP01,s09,30,\n"
        "bad\x01name\x00.mp4,s10,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    rows = run_batch(tmp_path / "m.csv", out, BatchOptions(workers=1, report=False))
    st = [(r["status"], r["error"]) for r in rows]
    assert st[0][0] == "ok" and st[1][0] == "ok"
    assert "missing.mp4" in st[2][1]
    assert "row 5" in st[3][1] and "fps" in st[3][1]
    assert "row 6" in st[4][1] and "neutral" in st[4][1]
    assert "row 7" in st[5][1] and "empty path" in st[5][1]
    assert "row 8" in st[6][1] and "longer than" in st[6][1]
    assert "EP02" in st[7][1] and "fps" in st[7][1]  # an image sequence needs a frame rate
    assert "same output folder" in st[8][1]  # listed twice: analysed once
    assert "row 11" in st[9][1] and "control characters" in st[9][1]
    assert all(s == "failed" for s, _ in st[2:]), st
    import json

    meta = json.loads((out / "s01" / "meta.json").read_text())
    assert meta["parameters"]["neutral"] == [0.0, 1.0]
    assert json.loads((out / "s01" / ".batch.json").read_text())["subject"] == "s01"
    assert (out / "EP01" / "frames.parquet").is_file()
    assert _table(out)["status"].tolist() == [s for s, _ in st]


def test_bad_roots_and_options_are_one_line_errors(tmp_path, clips):
    with pytest.raises(InputError, match="nowhere"):
        find_inputs(tmp_path / "nowhere")
    (tmp_path / "m.csv").write_text("file,fps\na.mp4,30\n")
    with pytest.raises(InputError, match="'path' column"):
        find_inputs(tmp_path / "m.csv")
    with pytest.raises(OptionError, match="executor"):
        BatchOptions(executor="spark")
    r = _cli("batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "nowhere" in r.stderr
    r = _cli("batch", str(tmp_path), "-o", str(tmp_path / "o"), "--max-faces", "99")
    assert r.returncode != 0 and "--max-faces" in r.stderr and "Traceback" not in r.stderr
    shutil.copy(clips["a"], tmp_path / "v.mp4")
    r = _cli(
        "batch", str(tmp_path), "-o", str(tmp_path / "o"), "--executor", "ray", "--address", "127.0.0.1:1"
    )
    assert r.returncode == 2 and "no Ray head answers" in r.stderr and "Traceback" not in r.stderr


def _batch_with_one_input_done(tmp_path: Path, clips: dict) -> tuple[Path, Path, subprocess.Popen]:
    """Start a batch of 4 inputs in its own process group; return once the first input is finished."""
    root = tmp_path / "in"
    root.mkdir()
    for i in range(4):
        shutil.copy(clips["abc"[i % 3]], root / f"v{i}.mp4")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*EXE, "batch", str(root), "-o", str(out), "--workers", "1", "--no-report", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if (out / "batch.csv").exists() and (_table(out)["status"] == "ok").sum() >= 1:
            return root, out, proc
        if proc.poll() is not None:
            pytest.fail("the batch ended before it could be interrupted")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("no input finished in time")


def test_a_killed_batch_leaves_a_truthful_table_and_the_next_run_resumes(tmp_path, clips):
    root, out, proc = _batch_with_one_input_done(tmp_path, clips)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    t = _table(out)
    assert len(t) == 4 and set(t["status"]) <= {"ok", "pending"}
    assert (t["status"] == "pending").sum() >= 1
    for _, row in t.iterrows():  # every row marked ok has its whole output
        if row["status"] == "ok":
            assert (Path(row["output"]) / "frames.parquet").is_file()
            assert (Path(row["output"]) / "meta.json").is_file()
    done_before = set(t.loc[t["status"] == "ok", "input"])

    rows = run_batch(root, out, BatchOptions(workers=2, report=False))
    by = {r["input"]: r["status"] for r in rows}
    assert all(by[i] == "skipped" for i in done_before)
    assert set(by.values()) <= {"ok", "skipped"} and list(by.values()).count("ok") >= 1
    for i in range(4):
        assert (out / f"v{i}" / "frames.parquet").is_file()


def test_ctrl_c_says_what_was_kept_and_how_to_resume(tmp_path, clips):
    _root, out, proc = _batch_with_one_input_done(tmp_path, clips)
    try:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert "kept in" in lines[0] and "resume" in lines[0] and "nothing was written" not in lines[0]
    assert (_table(out)["status"] == "ok").sum() >= 1
