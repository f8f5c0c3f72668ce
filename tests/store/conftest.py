"""Builders for store tests: keys, a fresh store, one real analysis of the rendered smile clip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_checks import assert_one_line_error  # noqa: F401  (re-exported to the tests)

SUBJECT = "alice o'brien/../x"  # quotes and path separators on purpose


def store_bytes(folder: Path) -> bytes:
    """Every byte under the store folder (catalogue, journal/WAL files, audit log, anything else)."""
    return b"".join(p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file())


def run_cli(*args: str, key: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MICROEXPR_KEY"}
    if key is not None:
        env["MICROEXPR_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "microexpr", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def key() -> bytes:
    from microexpr.store.crypto import new_key

    return new_key()


@pytest.fixture
def store(tmp_path, key):
    from microexpr.store.catalogue import open_store

    s = open_store(tmp_path / "store", key=key, create=True)
    yield s
    s.close()


@pytest.fixture(scope="session")
def smile_analysis(smile_video):
    """A real analysis of the rendered smile clip (in-process, one worker)."""
    from microexpr.pipeline import AnalyzeOptions, analyze_video

    return analyze_video(smile_video, AnalyzeOptions(workers=1))
