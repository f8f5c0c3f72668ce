"""Checks shared by the tests that run the `microexpr` command as a user would."""

from __future__ import annotations

import subprocess


def assert_one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    """A user error: non-zero exit, no traceback, exactly one line on stderr, naming each needle."""
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
