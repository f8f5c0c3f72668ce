"""The use guard: emotion inference off at work and in education unless medical or safety; the notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from microexpr.errors import OptionError
from microexpr.ethics.guard import UseRefused, apply, decide, notice_text
from microexpr.pipeline import AnalyzeOptions

from ..store.conftest import assert_one_line_error, run_cli


@pytest.mark.parametrize(
    "context, purpose, allowed",
    [
        (None, None, True),
        ("research", "basic science", True),
        ("healthcare", None, True),
        ("entertainment", "avatar puppeteering", True),
        ("workplace", None, False),
        ("workplace", "productivity", False),
        ("education", "attention tracking", False),
        ("WORKPLACE", "medical", True),
        ("workplace", "driver fatigue safety check", True),
        ("education", "Medical screening", True),
        ("education", "premedical course", False),  # a word, not a substring
    ],
)
def test_decide(context, purpose, allowed):
    assert decide(context, purpose).emotions_allowed is allowed


def test_apply_turns_emotions_off_and_refuses_recognizers():
    opts = apply(AnalyzeOptions(), decide("workplace", "team mood"))
    assert opts.emotions is False and opts.context == "workplace" and opts.purpose == "team mood"
    assert apply(AnalyzeOptions(), decide("research", None)).emotions is True
    with pytest.raises(UseRefused, match="--recognizer"):
        apply(AnalyzeOptions(recognizer=Path("m.onnx")), decide("education", None))
    ok = apply(AnalyzeOptions(recognizer=Path("m.onnx")), decide("education", "safety"))
    assert ok.emotions is True and ok.recognizer == Path("m.onnx")
    with pytest.raises(OptionError, match="unknown --context"):
        decide("'; DROP TABLE x", None)
    with pytest.raises(OptionError, match="the limit is 200"):
        decide("research", "p" * 10_000_000)


def test_notice_is_plain_language_and_context_aware():
    work = notice_text("workplace", contact="dpo@example.org")
    assert "does NOT estimate emotions" in work and "withdraw" in work and "dpo@example.org" in work
    lab = notice_text("research")
    assert "estimated emotion" in lab and "does NOT" not in lab
    for text in (work, lab):
        assert "no video images are stored" in text and max(len(x) for x in text.splitlines()) <= 110


def test_notice_command():
    p = run_cli("notice", "--context", "education")
    assert p.returncode == 0 and "NOTICE" in p.stdout and "education" in p.stdout, p.stderr
    assert_one_line_error(run_cli("notice", "--context", "casino"), "unknown --context", "research")
