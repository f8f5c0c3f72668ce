"""What a batch has done: content keys, per-output markers, and the summary table OUT/batch.csv."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from microexpr.io.images import IMAGE_SUFFIXES

BLOCK = 1 << 20  # bytes read from each end of a file ...
SAMPLES = 16  # ... plus this many 64 KiB blocks spread through it
MARKER = ".batch.json"  # in each output folder: the content key it was made from
COLUMNS = ("input", "status", "frames", "faces", "events", "seconds", "error", "output")


def _file_digest(h: hashlib._Hash, path: Path) -> None:  # type: ignore[name-defined]
    size = path.stat().st_size
    h.update(f"{path.name}\0{size}\0".encode())
    with open(path, "rb") as f:
        if size <= 2 * BLOCK + SAMPLES * 65536:
            h.update(f.read())
            return
        h.update(f.read(BLOCK))
        for k in range(1, SAMPLES + 1):
            f.seek(size * k // (SAMPLES + 1))
            h.update(f.read(65536))
        f.seek(size - BLOCK)
        h.update(f.read(BLOCK))


def content_key(path: Path, params: dict) -> str:
    """sha256 of the input's content and the analysis parameters (software and model versions included).

    A video is hashed by its size, its first and last MiB and 16 blocks of 64 KiB spread through it (fast on
    multi-GB files; any re-encode, cut or append changes it); smaller files whole. An image sequence by every
    frame's name and size and the content of its first, middle and last frames.
    """
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    if path.is_dir():
        frames = sorted(
            e.name for e in os.scandir(path) if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
        )
        for name in frames:
            h.update(f"{name}\0{(path / name).stat().st_size}\0".encode())
        for name in sorted({frames[0], frames[len(frames) // 2], frames[-1]}) if frames else ():
            _file_digest(h, path / name)
    else:
        _file_digest(h, path)
    return h.hexdigest()


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_marker(folder: Path, record: dict) -> None:
    from microexpr.outputs import atomic_write_text

    atomic_write_text(folder / MARKER, json.dumps(record, indent=1))


def read_table(out_root: Path) -> dict[str, dict]:
    """Rows of an earlier OUT/batch.csv by input (empty when there is none or it is unreadable)."""
    try:
        t = pd.read_csv(out_root / "batch.csv", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return {}
    return {r["input"]: r for r in t.to_dict("records") if "input" in r}


def write_table(out_root: Path, rows: list[dict]) -> Path:
    """OUT/batch.csv, written atomically (a killed batch leaves the last complete table)."""
    from microexpr.outputs import atomic_write_text

    t = pd.DataFrame(rows, columns=list(COLUMNS))
    return atomic_write_text(out_root / "batch.csv", t.to_csv(index=False))
