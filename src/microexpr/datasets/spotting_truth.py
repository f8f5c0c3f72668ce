"""Ground-truth spreadsheets of the long-video spotting datasets, as delivered (see shared DATASETS.md).

Both readers return one row per expression: ``video, subject, kind ("micro" | "macro"), onset_frame,
apex_frame, offset_frame, aus``. Frame numbers are the datasets' own (absolute image numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microexpr.errors import InputError

COLUMNS = ("video", "subject", "kind", "onset_frame", "apex_frame", "offset_frame", "aus")


def _excel(path: Path, **kwargs: object) -> pd.DataFrame | dict[str, pd.DataFrame]:
    try:
        return pd.read_excel(path, **kwargs)
    except ImportError:
        raise InputError("reading .xlsx needs openpyxl: pip install 'microexpr[datasets]'") from None
    except (ValueError, KeyError, OSError) as e:
        raise InputError(f"{path}: not a readable spreadsheet ({str(e).splitlines()[0]})") from None


def read_casme2_spotting(path: Path) -> pd.DataFrame:
    """CAS(ME)^2 ``CAS(ME)^2code_final.xlsx``: sheet ``CASFEcode_final`` without a header (subject, video,
    onset, apex, offset, au, emotion, type, self-report); an offset of 0 means "use the apex"."""
    sheets = _excel(Path(path), sheet_name=None, header=None)
    if "CASFEcode_final" not in sheets:
        raise InputError(f"{path}: no sheet CASFEcode_final (sheets: {', '.join(sheets)})")
    raw = sheets["CASFEcode_final"]
    if raw.shape[1] < 8:
        raise InputError(f"{path}: sheet CASFEcode_final has {raw.shape[1]} columns, expected at least 8")
    raw = raw.dropna(subset=[0, 1, 2])
    rule1 = {}
    if "naming rule1" in sheets:  # 15 -> s15
        r = sheets["naming rule1"].dropna()
        rule1 = {str(a).strip(): str(b).strip() for a, b in zip(r.iloc[:, 0], r.iloc[:, 1])}
    subject = raw[0].map(
        lambda s: rule1.get(
            str(int(s)) if isinstance(s, (int, float)) else str(s).strip(),
            f"s{int(s):02d}" if isinstance(s, (int, float)) else str(s).strip(),
        )
    )
    onset = pd.to_numeric(raw[2], errors="coerce")
    apex = pd.to_numeric(raw[3], errors="coerce")
    offset = pd.to_numeric(raw[4], errors="coerce")
    offset = offset.where(offset > 0, apex)
    kind = (
        raw[7]
        .astype(str)
        .str.lower()
        .map(lambda t: "micro" if "micro" in t else "macro" if "macro" in t else t)
    )
    return pd.DataFrame(
        {
            "video": subject.astype(str) + "/" + raw[1].astype(str).str.strip(),
            "subject": subject.astype(str),
            "kind": kind,
            "onset_frame": onset,
            "apex_frame": apex,
            "offset_frame": offset,
            "aus": raw[5].astype(str).str.strip(),
        }
    )[list(COLUMNS)].reset_index(drop=True)


def read_samm_lv_spotting(path: Path) -> pd.DataFrame:
    """SAMM Long Videos ``SAMM_LongVideos_V*_Release.xlsx``: preamble rows, then ``Subject, Filename, ...,
    Onset, Apex, Offset, Duration, Type, Action Units``; ``006_1_2`` is video ``006_1``; apex -1 is unknown;
    fractional frames are rounded."""
    raw = _excel(Path(path), header=None)
    header_row = next(
        (
            i
            for i in range(min(len(raw), 40))
            if {"Filename", "Onset", "Offset"} <= {str(v).strip() for v in raw.iloc[i]}
        ),
        None,
    )
    if header_row is None:
        raise InputError(f"{path}: no header row with Filename, Onset and Offset in the first 40 rows")
    df = raw.iloc[header_row + 1 :].copy()
    df.columns = [str(v).strip() for v in raw.iloc[header_row]]
    df = df.dropna(subset=["Filename", "Onset"])
    apex = pd.to_numeric(df["Apex"], errors="coerce").round() if "Apex" in df else np.nan
    kind = df["Type"].astype(str).str.lower().map(lambda t: "micro" if "micro" in t else "macro")
    video = df["Filename"].astype(str).str.strip().str.rsplit("_", n=1).str[0]
    return pd.DataFrame(
        {
            "video": video,
            "subject": df["Subject"].astype(str).str.strip() if "Subject" in df else "",
            "kind": kind,
            "onset_frame": pd.to_numeric(df["Onset"], errors="coerce").round(),
            "apex_frame": pd.Series(apex, index=df.index).where(lambda a: a >= 0),
            "offset_frame": pd.to_numeric(df["Offset"], errors="coerce").round(),
            "aus": df["Action Units"].astype(str).str.strip() if "Action Units" in df else "",
        }
    )[list(COLUMNS)].reset_index(drop=True)


def read_spotting_truth(path: Path) -> pd.DataFrame:
    """Either spreadsheet, recognised by its content."""
    p = Path(path)
    sheets = _excel(p, sheet_name=None, header=None, nrows=0)
    if "CASFEcode_final" in sheets:
        return read_casme2_spotting(p)
    return read_samm_lv_spotting(p)
