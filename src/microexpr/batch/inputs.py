"""What a batch analyses: the inputs found in a folder (recursive) or listed in a manifest CSV."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from microexpr.errors import InputError
from microexpr.io.images import IMAGE_SUFFIXES

# containers FFmpeg reads that people record faces in
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".m4v", ".mpg", ".mpeg", ".flv"})
MAX_FIELD = 4096  # longest manifest field accepted (paths included)


@dataclass(frozen=True)
class BatchInput:
    """One input of a batch.

    Attributes:
        path: a video file or an image-sequence folder.
        rel: where its outputs go under the batch's output folder (``OUT/<rel parent>/<stem>/``).
        subject: pseudonymous subject id from the manifest, if any.
        fps: frame rate of an image-sequence folder.
        neutral: neutral stretch (start_s, end_s), if given.
        error: why the row cannot be analysed (a bad manifest row); None when it can.
    """

    path: Path
    rel: Path
    subject: str | None = None
    fps: float | None = None
    neutral: tuple[float, float] | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        """The input's name in batch.csv: its path as given."""
        return str(self.path)


def _is_sequence(folder: Path) -> bool:
    names = [e.name for e in os.scandir(folder) if e.is_file()]
    return sum(os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES for n in names) >= 2


def find_inputs(root: Path | str) -> list[BatchInput]:
    """Inputs under a folder (recursive) or in a manifest CSV (``path[,subject][,fps][,neutral]``).

    In a folder, every video file is an input and so is every folder holding at least two images (an
    image sequence; its frame rate must then come from a manifest or ``--fps``). Outputs mirror the folder
    tree, so two ``clip.mp4`` in different folders never overwrite each other.

    Raises:
        InputError: the folder or manifest is missing or unreadable, or the manifest has no ``path`` column.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root} not found")
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return read_manifest(root)
        if root.suffix.lower() in VIDEO_SUFFIXES:
            return [BatchInput(root, Path(root.stem))]
        raise InputError(f"{root}: give a folder, a manifest .csv or a video")
    found: list[BatchInput] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        if d != root and _is_sequence(d):
            found.append(BatchInput(d, d.relative_to(root)))
            dirnames[:] = []  # a sequence's subfolders are not inputs of their own
            continue
        for name in sorted(filenames):
            p = d / name
            if p.suffix.lower() in VIDEO_SUFFIXES:
                found.append(BatchInput(p, p.relative_to(root).with_suffix("")))
    return found


def _parse_neutral(text: str) -> tuple[float, float]:
    a, sep, b = text.partition("-")
    lo, hi = float(a), float(b)
    if not sep or not (0 <= lo < hi < 1e7):
        raise ValueError
    return lo, hi


def read_manifest(path: Path) -> list[BatchInput]:
    """Rows of a manifest CSV; a bad row becomes an input with ``error`` set (reported as failed)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            fields = [c.strip().lower() for c in (rows[0].keys() if rows else [])]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read the manifest ({e.__class__.__name__}: {e})") from None
    if rows and "path" not in fields:
        raise InputError(f"{path}: the manifest needs a 'path' column (optional: subject, fps, neutral)")
    base = path.parent
    out: list[BatchInput] = []
    for i, raw in enumerate(rows, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        given = row.get("path", "")
        p = Path(given.replace("\0", "")) if given else Path(f"<row {i}>")
        p = p if p.is_absolute() else base / p
        try:
            rel = p.resolve().relative_to(base.resolve()).with_suffix("") if p.suffix else p.name
        except ValueError:  # outside the manifest's folder: keep its last two parts
            rel = Path(*p.with_suffix("").parts[-2:])
        error = None
        fps = neutral = None
        if not given:
            error = f"manifest row {i}: empty path"
        elif any(len(v) > MAX_FIELD for v in row.values()):
            error = f"manifest row {i}: a field is longer than {MAX_FIELD} characters"
        elif any(ord(ch) < 32 for ch in given):
            error = f"manifest row {i}: the path contains control characters"
        else:
            try:
                fps = float(row["fps"]) if row.get("fps") else None
                if fps is not None and not (0 < fps <= 10000):
                    raise ValueError
            except ValueError:
                error = f"manifest row {i}: fps must be a positive number, but got {row.get('fps')!r}"
            try:
                neutral = _parse_neutral(row["neutral"]) if row.get("neutral") else None
            except ValueError:
                error = (
                    error
                    or f"manifest row {i}: neutral must be START-END seconds, but got {row.get('neutral')!r}"
                )
        out.append(BatchInput(p, Path(rel), row.get("subject") or None, fps, neutral, error))
    return out
