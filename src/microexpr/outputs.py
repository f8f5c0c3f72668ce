"""The output contract of ``microexpr analyze``: column layout, and atomic writes of the files.

Every file is written under a temporary name and renamed into place; a run's folder is assembled aside and
swapped in whole, so an error never leaves half-written output and never destroys an earlier result.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from microexpr.errors import OutputError
from microexpr.facs import AU_CODES, BLENDSHAPE_NAMES
from microexpr.measure.quality import QUALITY_COLUMNS
from microexpr.types import N_LANDMARKS

POSE_COLUMNS = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
GAZE_COLUMNS = ("gaze_angle_x", "gaze_angle_y")
AU_R_COLUMNS = tuple(f"{c}_r" for c in AU_CODES)
AU_C_COLUMNS = tuple(f"{c}_c" for c in AU_CODES)
LANDMARK_COLUMNS = tuple(f"{a}_{i}" for a in "xyz" for i in range(N_LANDMARKS))
_INT_QUALITY = {"flag_blur", "flag_lighting", "flag_motion", "flag_small"}
EVENT_COLUMNS = (
    "face_id",
    "kind",
    "onset_frame",
    "apex_frame",
    "offset_frame",
    "onset_s",
    "apex_s",
    "offset_s",
    "duration_ms",
    "aus",
    "emotion",
    "confidence",
    "truncated",
)


def events_table(events: list) -> pd.DataFrame:
    """Spotted :class:`~microexpr.types.Event` objects as the events table (``EVENT_COLUMNS``)."""
    return pd.DataFrame(
        [
            {
                "face_id": e.face_id,
                "kind": e.kind,
                "onset_frame": e.onset_frame,
                "apex_frame": e.apex_frame,
                "offset_frame": e.offset_frame,
                "onset_s": round(e.onset_s, 6),
                "apex_s": round(e.apex_s, 6),
                "offset_s": round(e.offset_s, 6),
                "duration_ms": round(e.duration_ms, 3),
                "aus": "+".join(e.au_codes),
                "emotion": e.emotion,
                "confidence": e.confidence,
                "truncated": e.truncated,
            }
            for e in events
        ],
        columns=list(EVENT_COLUMNS),
    )


# measured once the neutral face is known (second pass): how much of the face is hidden, and how spotting
# used each row (0 used, 1 bridged by interpolation, 2 excluded: flagged, untracked or in a long gap)
TEMPORAL_COLUMNS = ("occlusion", "flag_occlusion", "spot_state")


def frames_schema(*, with_file: bool = False) -> pa.Schema:
    """Arrow schema of frames.parquet / frames.csv, in contract order."""
    f: list[pa.Field] = [pa.field("frame", pa.int64())]
    if with_file:
        f.append(pa.field("file", pa.string()))
    f += [
        pa.field("face_id", pa.int64()),
        pa.field("timestamp", pa.float64()),
        pa.field("confidence", pa.float32()),
        pa.field("success", pa.int8()),
    ]
    f += [pa.field(c, pa.float32()) for c in POSE_COLUMNS + GAZE_COLUMNS + AU_R_COLUMNS]
    f += [pa.field(c, pa.int8()) for c in AU_C_COLUMNS]
    f += [pa.field(c, pa.float32()) for c in BLENDSHAPE_NAMES]
    f += [pa.field(c, pa.int8() if c in _INT_QUALITY else pa.float32()) for c in QUALITY_COLUMNS]
    f += [pa.field("occlusion", pa.float32()), pa.field("flag_occlusion", pa.int8())]
    f += [pa.field("spot_state", pa.int8())]
    f += [pa.field(c, pa.float32()) for c in LANDMARK_COLUMNS]
    return pa.schema(f)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: object) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default, allow_nan=False))


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def prepare_out_dir(out_root: Path, stem: str) -> tuple[Path, Path]:
    """Create a staging folder beside ``out_root/stem``; returns (staging, final). Clear error if unwritable."""
    out_root = Path(out_root)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{stem}.", suffix=".partial", dir=out_root))
    except OSError as e:
        raise OutputError(f"cannot write to output folder {out_root}: {e.strerror or e}") from None
    return staging, out_root / stem


def commit_out_dir(staging: Path, final: Path) -> Path:
    """Swap the finished staging folder into place (an earlier result is replaced only now)."""
    old = None
    try:
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(staging, final)
    except OSError as e:
        if old is not None and not final.exists():
            os.replace(old, final)
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write to output folder {final.parent}: {e.strerror or e}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def write_tables(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, folder: Path, *, csv: bool = True
) -> list[Path]:
    """Stream record batches into frames.parquet (and frames.csv) in ``folder``: one pass, flat memory."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq_path, csv_path = folder / "frames.parquet", folder / "frames.csv"
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(pq.ParquetWriter(pq_path, schema, compression="zstd"))]
        if csv:
            opts = pacsv.WriteOptions(quoting_style="needed")
            writers.append(stack.enter_context(pacsv.CSVWriter(csv_path, schema, write_options=opts)))
        for b in batches:
            for w in writers:
                w.write_batch(b)
    return [pq_path, csv_path] if csv else [pq_path]
