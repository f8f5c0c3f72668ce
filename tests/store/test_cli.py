"""Consent, store and analyze --subject as a user runs them: real processes, one-line errors, nothing half-written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from microexpr.store.crypto import encode_key, new_key

from .conftest import SUBJECT, assert_one_line_error, run_cli, store_bytes


def test_analyze_with_subject_needs_consent_then_stores_encrypted(smile_video, tmp_path):
    key = encode_key(new_key())
    st, out = tmp_path / "store", tmp_path / "out"
    p = run_cli("store", "init", "--store", str(st), "--retain-days", "90", key=key)
    assert p.returncode == 0, p.stderr
    before = store_bytes(st)

    # no consent: refused before analysing; nothing written, nothing stored about the subject
    p = run_cli(
        "analyze", str(smile_video), "-o", str(out), "--subject", SUBJECT, "--store", str(st), key=key
    )
    assert p.returncode == 3
    assert_one_line_error(p, "refused", "no active consent covering capture, storage")
    assert not out.exists()
    assert store_bytes(st).count(b"s_") == before.count(b"s_")

    p = run_cli("consent", "grant", SUBJECT, "--purpose", "research", "--scope", "capture,storage",
                "--store", str(st), key=key)  # fmt: skip
    assert p.returncode == 0 and "consent recorded" in p.stdout, p.stderr
    p = run_cli("analyze", str(smile_video), "-o", str(out), "--subject", SUBJECT, "--store", str(st),
                "--context", "education", "--purpose", "lecture feedback", "--quiet", key=key)  # fmt: skip
    assert p.returncode == 0, p.stderr
    meta = json.loads((out / "smile" / "meta.json").read_text())
    assert (
        meta["parameters"]["context"] == "education" and meta["parameters"]["purpose"] == "lecture feedback"
    )
    assert meta["parameters"]["emotions"] is False  # guard: no emotion inference in education
    local = pd.read_parquet(out / "smile" / "frames.parquet")
    assert local["AU12_r"].max() > 1.5  # AU capture stays available

    raw = store_bytes(st)
    assert SUBJECT.encode() not in raw and b"AU12_r" not in raw and b"smile" not in raw
    p = run_cli("consent", "show", SUBJECT, "--store", str(st), "--json", key=key)
    shown = json.loads(p.stdout)
    assert shown["analyses"] == 1 and shown["active_scopes"] == ["capture", "storage"]

    p = run_cli("store", "export", SUBJECT, "-o", str(tmp_path / "exp"), "--store", str(st), key=key)
    assert p.returncode == 0, p.stderr
    exported = pd.read_parquet(next((tmp_path / "exp").glob("s_*/analysis-1/frames.parquet")))
    assert exported["AU12_r"].tolist() == local["AU12_r"].tolist()

    # wrong key: loud; missing key: one line
    assert_one_line_error(
        run_cli("consent", "show", SUBJECT, "--store", str(st), key=encode_key(new_key())), "AES-GCM tag"
    )
    assert_one_line_error(run_cli("consent", "show", SUBJECT, "--store", str(st)), "no master key")

    p = run_cli("consent", "withdraw", SUBJECT, "--store", str(st), key=key)
    assert p.returncode == 0 and "1 analysis(es) deleted" in p.stdout, p.stderr
    pseud = shown["subject"].encode()
    assert pseud not in (st / "catalogue.sqlite").read_bytes()
    p = run_cli("audit", "verify", "--store", str(st))
    assert p.returncode == 0, p.stderr


def test_guard_refuses_a_recognizer_at_work_before_analysing(smile_video, tmp_path):
    p = run_cli("analyze", str(smile_video), "-o", str(tmp_path / "o"), "--context", "workplace",
                "--purpose", "productivity", "--recognizer", str(tmp_path / "emo.onnx"))  # fmt: skip
    assert p.returncode == 3
    assert_one_line_error(p, "refused", "--recognizer", "workplace", "medical or safety")
    assert not (tmp_path / "o").exists()
    assert_one_line_error(run_cli("analyze", str(smile_video), "--context", "spying"), "unknown --context")
    assert_one_line_error(
        run_cli("analyze", str(smile_video), "--store", str(tmp_path / "s")),
        "--store and --key-file need --subject",
    )


def test_consent_and_store_bad_input(tmp_path):
    key = encode_key(new_key())
    st = str(tmp_path / "st")
    cases = [
        (
            ("consent", "grant", "s01", "--purpose", "r", "--scope", "capture,mindreading"),
            "unknown consent scope",
        ),
        (
            ("consent", "grant", "s01", "--purpose", "r", "--scope", "capture", "--expires", "tomorrow"),
            "--expires",
        ),
        (
            ("consent", "grant", "s01", "--purpose", "r", "--scope", "capture", "--form", "nope.pdf"),
            "not found",
        ),
        (("consent", "grant", "x" * 100_000, "--purpose", "r", "--scope", "capture"), "the limit is 128"),
        (("consent", "grant", "s01", "--purpose", "p" * 100_000, "--scope", "capture"), "the limit is 200"),
        (("consent", "show", "s01"), "no store at"),
        (("store", "rotate-key", "--new-key-file", str(tmp_path / "nokey")), "not found"),
    ]
    for args, needle in cases:
        assert_one_line_error(run_cli(*args, "--store", st, key=key, cwd=tmp_path), needle)
    assert not (tmp_path / "st" / "catalogue.sqlite").exists() or "s_" not in (
        tmp_path / "st" / "catalogue.sqlite"
    ).read_bytes().decode("latin-1")


def test_keygen_rotate_and_form_hash(tmp_path):
    k1, k2 = tmp_path / "k1", tmp_path / "k2"
    assert run_cli("store", "keygen", "-o", str(k1)).returncode == 0
    assert run_cli("store", "keygen", "-o", str(k2)).returncode == 0
    assert_one_line_error(run_cli("store", "keygen", "-o", str(k1)), "not overwriting")
    assert (k1.stat().st_mode & 0o777) == 0o600
    form = tmp_path / "form.pdf"
    form.write_bytes(b"%PDF signed by s01")
    st = str(tmp_path / "st")
    p = run_cli("consent", "grant", "s01", "--purpose", "research", "--scope", "capture,storage,emotion",
                "--form", str(form), "--expires", "2099-12-31", "--store", st, "--key-file", str(k1))  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = run_cli("store", "rotate-key", "--new-key-file", str(k2), "--store", st, "--key-file", str(k1))
    assert p.returncode == 0 and "re-wrapped 2 key(s)" in p.stdout, p.stderr
    assert_one_line_error(
        run_cli("consent", "show", "s01", "--store", st, "--key-file", str(k1)), "tag check"
    )
    p = run_cli("consent", "show", "s01", "--store", st, "--key-file", str(k2), "--json")
    c = json.loads(p.stdout)["consents"][0]
    import hashlib

    assert c["form_sha256"] == hashlib.sha256(form.read_bytes()).hexdigest()
    assert c["expires_at"].startswith("2099-12-31") and c["scopes"] == ["capture", "storage", "emotion"]
    assert b"signed by" not in (tmp_path / "st" / "catalogue.sqlite").read_bytes()


def test_streaming_a_stored_subject_needs_their_streaming_consent(smile_video, tmp_path):
    import socket

    key = encode_key(new_key())
    st = tmp_path / "store"
    assert run_cli("store", "init", "--store", str(st), key=key).returncode == 0
    p = run_cli("consent", "grant", SUBJECT, "--purpose", "research", "--scope", "capture,storage",
                "--store", str(st), key=key)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a real VMC receiver on loopback
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    port = rx.getsockname()[1]
    try:
        args = ("stream", str(smile_video), "--vmc", f"127.0.0.1:{port}", "--stored-subject", SUBJECT,
                "--store", str(st))  # fmt: skip
        p = run_cli(*args, key=key)
        assert_one_line_error(p, "streaming")  # refused: the consent does not cover streaming
        with pytest.raises(TimeoutError):
            rx.recv(65536)  # and nothing was sent
        p = run_cli("consent", "grant", SUBJECT, "--purpose", "research", "--scope", "capture,streaming",
                    "--store", str(st), key=key)  # fmt: skip
        assert p.returncode == 0, p.stderr
        p = run_cli(*args, "--purpose", "avatar demo", key=key)
        assert p.returncode == 0, p.stderr
        assert rx.recv(65536)  # frames arrived
    finally:
        rx.close()
    log = (st / "audit.jsonl").read_text()
    assert '"stream.start"' in log and SUBJECT not in log  # logged, under the pseudonym only
