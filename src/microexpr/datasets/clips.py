"""Recognition datasets as delivered (CASME II, SAMM, SMIC-HS, CAS(ME)^3, MEGC2019 composite): one
:class:`Clip` per labelled micro-expression, with its frame files. Layouts: shared DATASETS.md and
docs/recognition.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from microexpr.datasets.spotting_truth import _excel
from microexpr.errors import InputError, OptionError
from microexpr.recognize.emotion import au_numbers, megc_class

DATASETS: tuple[str, ...] = ("casme2", "samm", "smic", "casme3", "megc2019")
_IMG = (".jpg", ".jpeg", ".png", ".bmp")
_NUM = re.compile(r"(\d+)(?=\.[A-Za-z]+$)")


@dataclass(frozen=True)
class Clip:
    """One labelled expression.

    Attributes:
        id: "dataset/subject/clip".
        subject: the LOSO group ("casme2/sub01").
        emotion: the dataset's own emotion (lower case) or, for SMIC, its class.
        frames: the clip's image files in frame order.
        onset: index into ``frames`` of the onset; apex: of the apex (the middle frame when not coded).
        aus: AU numbers coded (empty where the dataset has none).
    """

    id: str
    subject: str
    emotion: str
    frames: tuple[Path, ...]
    onset: int
    apex: int
    aus: frozenset[int]


def _frame_files(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        raise InputError(f"{folder}: no such clip folder")
    out = []
    for p in folder.iterdir():
        m = _NUM.search(p.name)
        if p.suffix.lower() in _IMG and m:
            out.append((int(m.group(1)), p))
    if not out:
        raise InputError(f"{folder}: no numbered image files (.jpg, .png, .bmp)")
    return sorted(out)


def _frame_number(v: object) -> int | None:
    """A sheet's frame number, or None for "/", -1, blank (apex not coded)."""
    try:
        f = float(str(v).strip())
    except ValueError:
        return None
    return int(round(f)) if f >= 0 else None


def _clip(
    dataset: str,
    subject: str,
    name: str,
    emotion: str,
    folder: Path,
    onset: object,
    apex: object,
    offset: object,
    aus: object,
) -> Clip:
    files = _frame_files(folder)
    numbers = [n for n, _ in files]

    def index(n: int) -> int:  # the nearest frame that exists (CAS(ME)^3 has gaps in its numbering)
        return min(range(len(numbers)), key=lambda i: abs(numbers[i] - n))

    on = _frame_number(onset)
    if on is None:
        raise InputError(f"{dataset} {subject}/{name}: onset frame {onset!r} is not a number")
    i_on = index(on)
    ap = _frame_number(apex)
    off = _frame_number(offset)
    if ap is not None and ap > 0:
        i_ap = index(ap)
    else:
        i_off = index(off) if off else len(files) - 1
        i_ap = (i_on + i_off) // 2
    return Clip(
        f"{dataset}/{subject}/{name}",
        f"{dataset}/{subject}",
        str(emotion).strip().lower(),
        tuple(p for _, p in files),
        i_on,
        i_ap,
        au_numbers(str(aus)) if pd.notna(aus) else frozenset(),
    )


def _sheet(root: Path, pattern: str, what: str) -> Path:
    found = sorted(root.glob(pattern)) + sorted(root.glob(f"*/{pattern}"))
    if not found:
        raise InputError(f"{root}: no {what} ({pattern}) found")
    return found[0]


def _first_dir(root: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        if (root / n).is_dir():
            return root / n
    return root


def load_casme2(root: Path | str) -> list[Clip]:
    """CASME II: ``CASME2-coding-*.xlsx`` and ``CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg`` (or
    ``Cropped/subXX/EPxx_xx/reg_imgN.jpg``). A "/" apex becomes the middle frame of onset-offset."""
    root = Path(root)
    sheet = _excel(_sheet(root, "CASME2-coding*.xlsx", "CASME II coding sheet"))
    need = [
        "Subject",
        "Filename",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "Action Units",
        "Estimated Emotion",
    ]
    missing = [c for c in need if c not in sheet.columns]
    if missing:
        raise InputError(f"{root}: CASME II sheet lacks columns {', '.join(missing)}")
    frames = _first_dir(
        root, ("CASME2_RAW_selected", "Cropped", "CASME2_RAW", "CASME2_RAW_selected/CASME2_RAW_selected")
    )
    out = []
    for r in sheet.dropna(subset=["Subject", "Filename"]).itertuples(index=False):
        row = dict(zip(sheet.columns, r))
        sub = f"sub{int(row['Subject']):02d}"
        out.append(
            _clip(
                "casme2",
                sub,
                str(row["Filename"]),
                row["Estimated Emotion"],
                frames / sub / str(row["Filename"]),
                row["OnsetFrame"],
                row["ApexFrame"],
                row["OffsetFrame"],
                row["Action Units"],
            )
        )
    return out


def load_samm(root: Path | str) -> list[Clip]:
    """SAMM: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (13 preamble rows) and ``SAMM/006/006_1_2/006_05562.jpg``."""
    root = Path(root)
    sheet = _excel(_sheet(root, "SAMM_Micro_FACS_Codes*.xlsx", "SAMM FACS sheet"), skiprows=range(13))
    need = [
        "Subject",
        "Filename",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Action Units",
        "Estimated Emotion",
    ]
    missing = [c for c in need if c not in sheet.columns]
    if missing:
        raise InputError(f"{root}: SAMM sheet lacks columns {', '.join(missing)} (13 preamble rows expected)")
    frames = _first_dir(root, ("SAMM",))
    out = []
    for r in sheet.dropna(subset=["Subject", "Filename"]).itertuples(index=False):
        row = dict(zip(sheet.columns, r))
        sub = f"{int(row['Subject']):03d}"
        out.append(
            _clip(
                "samm",
                sub,
                str(row["Filename"]),
                row["Estimated Emotion"],
                frames / sub / str(row["Filename"]),
                row["Onset Frame"],
                row["Apex Frame"],
                row["Offset Frame"],
                row["Action Units"],
            )
        )
    return out


def load_smic(root: Path | str) -> list[Clip]:
    """SMIC-HS: labels from folders ``HS/s1/micro/negative/s1_ne_01/*.bmp``; no apex: the middle frame."""
    root = Path(root)
    hs = _first_dir(root, ("HS", "SMIC_all_cropped/HS"))
    out = []
    for clip_dir in sorted(hs.glob("s*/micro/*/*")):
        if not clip_dir.is_dir():
            continue
        cls = clip_dir.parent.name.lower()
        if cls not in ("negative", "positive", "surprise"):
            continue
        digits = re.sub(r"\D", "", clip_dir.parents[2].name) or "0"
        sub = f"s{int(digits):02d}"
        files = _frame_files(clip_dir)
        out.append(
            _clip("smic", sub, clip_dir.name, cls, clip_dir, files[0][0], None, files[-1][0], float("nan"))
        )
    if not out:
        raise InputError(
            f"{root}: no SMIC-HS clips (expected HS/sN/micro/<negative|positive|surprise>/<clip>/)"
        )
    return out


def load_casme3(root: Path | str) -> list[Clip]:
    """CAS(ME)^3 part A: ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` sheet ``label`` and
    ``spNO.1/b/color/175.jpg`` (folders sometimes spelled ``spNo``; gaps in numbering)."""
    root = Path(root)
    sheet = _excel(
        _sheet(root, "cas(me)3_part_A_ME_label*.xlsx", "CAS(ME)^3 label sheet"), sheet_name="label"
    )
    need = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "emotion"]
    missing = [c for c in need if c not in sheet.columns]
    if missing:
        raise InputError(f"{root}: CAS(ME)^3 sheet lacks columns {', '.join(missing)}")
    base = _first_dir(root, ("part_A", "data"))
    out = []
    for r in sheet.dropna(subset=["Subject", "Filename"]).itertuples(index=False):
        row = dict(zip(sheet.columns, r))
        sub = str(row["Subject"]).strip()
        folder = None
        for cand in (sub, sub.replace("NO", "No"), sub.replace("No", "NO")):
            if (base / cand / str(row["Filename"]) / "color").is_dir():
                folder = base / cand / str(row["Filename"]) / "color"
                break
        if folder is None:
            raise InputError(f"{base}: no frames for {sub}/{row['Filename']}/color")
        out.append(
            _clip(
                "casme3",
                sub,
                str(row["Filename"]) + f"_{int(row['Onset'])}",
                row["emotion"],
                folder,
                row["Onset"],
                row["Apex"],
                row["Offset"],
                row["AU"],
            )
        )
    return out


def load_megc2019(root: Path | str, gt: Path | str | None = None) -> list[Clip]:
    """MEGC2019 composite: ``combined_3class_gt.csv`` (no header: dataset, subject, filename, label 0
    negative / 1 positive / 2 surprise) over ``ROOT/CASME2``, ``ROOT/SAMM``, ``ROOT/SMIC`` (each laid out as
    its own loader expects). The official list is used, never a remapping of the sheets."""
    root = Path(root)
    gt_path = Path(gt) if gt is not None else _sheet(root, "combined_3class_gt.csv", "MEGC2019 list")
    try:
        table = pd.read_csv(
            gt_path, header=None, names=["dataset", "subject", "filename", "label"], dtype=str
        )
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(f"{gt_path}: not a readable CSV ({e})") from None
    loaders = {"casme2": (load_casme2, "CASME2"), "samm": (load_samm, "SAMM"), "smic": (load_smic, "SMIC")}
    by_clip: dict[tuple[str, str], Clip] = {}
    for key, (fn, folder) in loaders.items():
        if (root / folder).is_dir() and table["dataset"].str.lower().str.contains(key).any():
            for c in fn(root / folder):
                by_clip[(key, c.id.split("/")[-1])] = c
    names = ("negative", "positive", "surprise")
    out = []
    for r in table.itertuples(index=False):
        key = next((k for k in loaders if k in str(r.dataset).lower()), None)
        c = by_clip.get((key, str(r.filename).strip())) if key else None
        if c is None:
            raise InputError(f"{gt_path}: clip {r.dataset}/{r.subject}/{r.filename} not found under {root}")
        try:
            label = names[int(r.label)]
        except (ValueError, IndexError):
            raise InputError(f"{gt_path}: label {r.label!r} of {r.filename} is not 0, 1 or 2") from None
        out.append(Clip(c.id, c.subject, label, c.frames, c.onset, c.apex, c.aus))
    return out


def load_clips(name: str, root: Path | str, *, gt: Path | str | None = None) -> list[Clip]:
    """The clips of dataset ``name`` (see :data:`DATASETS`) under ``root``."""
    if not Path(root).exists():
        raise InputError(f"{root}: no such dataset folder")
    if name == "megc2019":
        return load_megc2019(root, gt)
    fns = {"casme2": load_casme2, "samm": load_samm, "smic": load_smic, "casme3": load_casme3}
    if name not in fns:
        raise OptionError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return fns[name](root)


def clip_label(clip: Clip, labels: str) -> str | None:
    """The label of a clip: "megc3" (negative / positive / surprise; None for others) or "emotion"."""
    if labels == "emotion":
        return clip.emotion
    if labels == "megc3":
        return megc_class(clip.emotion)
    raise OptionError(f"labels must be megc3 or emotion, not {labels!r}")
