import numpy as np

from microexpr.track.observe import CHUNK_FRAMES, OVERLAP_FRAMES, plan_chunks


def _covered(chunks):
    kept = np.concatenate([np.arange(a, b) for _, b, a in chunks])
    return kept


def test_every_frame_is_kept_exactly_once_and_decoding_starts_early_enough():
    for n, workers in ((90, 2), (1000, 2), (5000, 3), (7, 2)):
        chunks = plan_chunks(100, n, workers, np.arange(100, 100 + n, 30))
        kept = _covered(chunks)
        assert np.array_equal(np.sort(kept), np.arange(100, 100 + n)), (n, workers)
        for start, _stop, keep in chunks:
            assert start == max(100, keep - OVERLAP_FRAMES)


def test_dense_keyframes_give_small_balanced_chunks():
    chunks = plan_chunks(0, 4800, 2, np.arange(0, 4800, 30))
    assert len(chunks) % 2 == 0 and max(b - a for _, b, a in chunks) <= CHUNK_FRAMES


def test_a_single_keyframe_gives_one_long_chunk_per_worker():
    # a long-GOP clip: small chunks would each re-decode everything before them
    chunks = plan_chunks(0, 18000, 2, np.array([0]))
    assert len(chunks) == 2


def test_two_worker_processes_agree_with_one(smile_video):
    from microexpr import analyze_video

    one = analyze_video(smile_video, workers=1)
    two = analyze_video(smile_video, workers=2)
    assert two.params["workers_used"] == 2
    a, b = one.frames, two.frames
    assert a["frame"].tolist() == b["frame"].tolist() and a["face_id"].tolist() == b["face_id"].tolist()
    # the second chunk's landmarker starts OVERLAP_FRAMES early, so it has settled: landmarks agree closely
    assert np.nanmax(np.abs(a["x_61"].to_numpy() - b["x_61"].to_numpy())) < 1.0
    assert np.abs(a["AU12_r"].to_numpy() - b["AU12_r"].to_numpy()).max() < 0.5


def test_two_workers_on_a_truncated_file_keep_what_decodes_and_warn(tmp_path, face_model):
    import av

    from microexpr import analyze_video
    from microexpr.synth import render_clip, sample_face, write_video

    full = write_video(
        render_clip(sample_face("astronaut", size=(320, 240), iod_px=60), {}, fps=30.0, n_frames=120),
        tmp_path / "full.mkv",
        fps=30.0,
        keyint=30,
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with av.open(str(cut)) as c:
        decodable = sum(1 for _ in c.decode(video=0))
    r = analyze_video(cut, workers=2)
    assert r.params["workers_used"] == 2
    f = r.frames
    assert 0 < len(f) <= decodable and f["frame"].is_monotonic_increasing
    assert (f["success"] == 1).mean() > 0.9


def test_stderr_comes_back_when_landmarkers_start_on_several_threads_at_once():
    """Two live landmarker threads warm up together; stderr must work afterwards (the run's summary and any
    later error go there)."""
    import os
    import tempfile
    import threading

    from microexpr.track.landmarker import _native_stderr_silenced

    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            barrier = threading.Barrier(4)

            def warm() -> None:
                with _native_stderr_silenced():
                    barrier.wait()
                    os.write(2, b"hidden\n")
                    barrier.wait()

            threads = [threading.Thread(target=warm) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            os.write(2, b"seen\n")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        assert f.read() == b"seen\n"
