"""Recognition dataset loaders and `microexpr datasets prepare`, on small folders laid out exactly like the
real (licensed) datasets, sheets written with openpyxl in their real column layouts and quirks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from microexpr.cli import app
from microexpr.datasets.clips import load_clips
from microexpr.errors import InputError
from microexpr.recognize.flowdata import load_flow_dataset

CASME2_HEADER = [
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
]
SAMM_HEADER = [
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
]


def _xlsx(path: Path, rows: list[list], sheet: str | None = None, preamble: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    if sheet:
        ws.title = sheet
    for i in range(preamble):
        ws.append([f"SAMM preamble line {i}"] if i % 3 == 0 else [])
    for r in rows:
        ws.append(r)
    wb.save(path)


def _frames(folder: Path, names: list[str], images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, img in zip(names, images):
        cv2.imwrite(str(folder / n), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def _noise(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (48, 48, 3), np.uint8) for _ in range(n)]


def make_casme2(root: Path, images=None) -> Path:
    """Two subjects; sub01/EP02_01f has apex "/" (middle of onset-offset is used)."""
    rows = [
        CASME2_HEADER,
        [1, "EP02_01f", None, 46, 48, 50, None, "12", "happiness"],
        [1, "EP03_02", None, 10, "/", 14, None, "1+2", "surprise"],
        [2, "EP01_11f", None, 20, 22, 24, None, "4or7+9", "disgust"],
        [2, "EP05_02", None, 30, 32, 34, None, "14", "others"],
    ]
    _xlsx(root / "CASME2-coding-20140508.xlsx", rows)
    for sub, ep, start in (
        ("sub01", "EP02_01f", 46),
        ("sub01", "EP03_02", 10),
        ("sub02", "EP01_11f", 20),
        ("sub02", "EP05_02", 30),
    ):
        imgs = images[(sub, ep)] if images else _noise(5)
        _frames(root / "CASME2_RAW_selected" / sub / ep, [f"img{start + i}.jpg" for i in range(5)], imgs)
    return root


def make_samm(root: Path) -> Path:
    rows = [
        SAMM_HEADER,
        [6, "006_1_2", "1", 5562, 5564, 5566, 5, "Micro", "R12or14", "Contempt", "IV", ""],
        [7, "007_3_1", "3", 100, -1, 104, 5, "Micro", "4+7/9", "Anger", "I", "apex not coded"],
    ]
    _xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows, preamble=13)
    _frames(root / "SAMM" / "006" / "006_1_2", [f"006_{n:05d}.jpg" for n in range(5562, 5567)], _noise(5))
    _frames(root / "SAMM" / "007" / "007_3_1", [f"007_{n:05d}.jpg" for n in range(100, 105)], _noise(5))
    return root


def make_smic(root: Path) -> Path:
    for sub, cls, clip in (
        ("s1", "negative", "s1_ne_01"),
        ("s1", "positive", "s1_po_01"),
        ("s2", "surprise", "s2_sur_01"),
    ):
        _frames(
            root / "HS" / sub / "micro" / cls / clip, [f"image{n:06d}.bmp" for n in range(1, 6)], _noise(5)
        )
    return root


def test_casme2_sheet_frames_and_slash_apex(tmp_path):
    clips = load_clips("casme2", make_casme2(tmp_path))
    assert [c.id for c in clips] == [
        "casme2/sub01/EP02_01f",
        "casme2/sub01/EP03_02",
        "casme2/sub02/EP01_11f",
        "casme2/sub02/EP05_02",
    ]
    c = clips[0]
    assert c.frames[c.onset].name == "img46.jpg" and c.frames[c.apex].name == "img48.jpg"
    assert clips[1].frames[clips[1].apex].name == "img12.jpg"  # "/" -> middle of 10..14
    assert clips[2].aus == {4, 7, 9} and clips[2].subject == "casme2/sub02"


def test_samm_preamble_or_strings_and_missing_apex(tmp_path):
    clips = load_clips("samm", make_samm(tmp_path))
    assert [c.subject for c in clips] == ["samm/006", "samm/007"]
    assert clips[0].aus == {12, 14} and clips[0].emotion == "contempt"
    assert clips[0].frames[clips[0].apex].name == "006_05564.jpg"
    assert clips[1].frames[clips[1].apex].name == "007_00102.jpg"  # -1 -> middle


def test_smic_labels_from_folders_and_middle_apex(tmp_path):
    clips = load_clips("smic", make_smic(tmp_path))
    assert [(c.subject, c.emotion) for c in clips] == [
        ("smic/s01", "negative"),
        ("smic/s01", "positive"),
        ("smic/s02", "surprise"),
    ]
    assert clips[0].onset == 0 and clips[0].apex == 2


def test_casme3_label_sheet_spelling_and_gaps(tmp_path):
    rows = [
        ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"],
        ["spNO.1", "b", 175, 179, 183, "L4+R7", 1, "anger"],
        ["spNO.2", "d", 10, 12, 14, "12", 2, "happy"],
    ]
    _xlsx(tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", rows, sheet="label")
    _frames(tmp_path / "spNO.1" / "b" / "color", [f"{n}.jpg" for n in (175, 176, 178, 180, 183)], _noise(5))
    _frames(tmp_path / "spNo.2" / "d" / "color", [f"{n}.jpg" for n in range(10, 15)], _noise(5))
    clips = load_clips("casme3", tmp_path)
    assert clips[0].frames[clips[0].apex].name in ("178.jpg", "180.jpg")  # 179 is missing: the nearest
    assert clips[1].frames[0].parent.parent.parent.name == "spNo.2"


def test_megc2019_uses_the_official_list(tmp_path):
    make_casme2(tmp_path / "CASME2")
    make_samm(tmp_path / "SAMM")
    make_smic(tmp_path / "SMIC")
    (tmp_path / "combined_3class_gt.csv").write_text(
        "casme2,sub01,EP02_01f,1\nsamm,006,006_1_2,0\nsmic,s01,s1_ne_01,0\nsmic,s02,s2_sur_01,2\n"
    )
    clips = load_clips("megc2019", tmp_path)
    assert [(c.id, c.emotion) for c in clips] == [
        ("casme2/sub01/EP02_01f", "positive"),
        ("samm/006/006_1_2", "negative"),
        ("smic/s01/s1_ne_01", "negative"),
        ("smic/s02/s2_sur_01", "surprise"),
    ]
    (tmp_path / "combined_3class_gt.csv").write_text("casme2,sub09,EP99_99,1\n")
    with pytest.raises(InputError, match="EP99_99 not found"):
        load_clips("megc2019", tmp_path)


def test_missing_and_broken_datasets_give_one_line_errors(tmp_path):
    r = CliRunner().invoke(
        app, ["datasets", "prepare", "casme2", str(tmp_path / "nope"), "-o", str(tmp_path / "x.npz")]
    )
    assert r.exit_code == 2 and "no such dataset folder" in r.output and "Traceback" not in r.output
    (tmp_path / "CASME2-coding-1.xlsx").write_bytes(b"not a spreadsheet")
    r = CliRunner().invoke(
        app, ["datasets", "prepare", "casme2", str(tmp_path), "-o", str(tmp_path / "x.npz")]
    )
    assert r.exit_code == 2 and "not a readable spreadsheet" in r.output
    assert not (tmp_path / "x.npz").exists()
    r = CliRunner().invoke(
        app, ["datasets", "prepare", "casme9", str(tmp_path), "-o", str(tmp_path / "x.npz")]
    )
    assert r.exit_code == 2 and "unknown dataset" in r.output


@pytest.fixture(scope="module")
def rendered_casme2(tmp_path_factory, face_model) -> Path:
    """CASME II layout whose frames are rendered expressions of the astronaut (neutral onset)."""
    from microexpr.synth import sample_face
    from microexpr.synth.render import Renderer

    photo = sample_face("astronaut", size=(320, 320), iod_px=80.0)
    r = Renderer(photo)
    aus = {
        ("sub01", "EP02_01f"): {"AU12": 3.0},
        ("sub01", "EP03_02"): {"AU01": 3.0, "AU02": 3.0},
        ("sub02", "EP01_11f"): {"AU09": 3.0},
        ("sub02", "EP05_02"): {"AU14": 2.0},
    }
    images = {
        k: [r.render({a: v * w for a, v in au.items()}) for w in (0.0, 0.5, 1.0, 0.5, 0.0)]
        for k, au in aus.items()
    }
    return make_casme2(tmp_path_factory.mktemp("casme2"), images)


def test_prepare_casme2_writes_the_flow_dataset_file(rendered_casme2, tmp_path):
    out = tmp_path / "casme2.npz"
    r = CliRunner().invoke(app, ["datasets", "prepare", "casme2", str(rendered_casme2), "-o", str(out)])
    assert r.exit_code == 0, r.output
    d = load_flow_dataset(out)
    assert d.x.shape == (3, 3, 28, 28) and d.x.dtype == np.float32  # "others" is outside the 3 classes
    assert d.classes == ("negative", "positive", "surprise")
    assert [d.classes[i] for i in d.y] == ["positive", "surprise", "negative"]
    assert d.groups.tolist() == ["casme2/sub01", "casme2/sub01", "casme2/sub02"]
    assert d.ids[0] == "casme2/sub01/EP02_01f"
    smile, brows = d.x[0], d.x[1]
    assert smile[1, 17:24].min() < -0.1 and np.abs(smile[1, :10]).max() < np.abs(smile[1, 17:24]).max()
    assert brows[1, :12].min() < -0.1
    r = CliRunner().invoke(
        app,
        [
            "datasets",
            "prepare",
            "casme2",
            str(rendered_casme2),
            "-o",
            str(tmp_path / "e.npz"),
            "--labels",
            "emotion",
            "--size",
            "112",
        ],
    )
    assert r.exit_code == 0, r.output
    e = load_flow_dataset(tmp_path / "e.npz")
    assert e.x.shape == (4, 3, 112, 112) and set(e.classes) == {"happiness", "surprise", "disgust", "others"}


def test_prepare_pre_cropped_smic_without_alignment(tmp_path):
    root = make_smic(tmp_path / "smic")
    r = CliRunner().invoke(
        app, ["datasets", "prepare", "smic", str(root), "-o", str(tmp_path / "s.npz"), "--no-align"]
    )
    assert r.exit_code == 0, r.output
    d = load_flow_dataset(tmp_path / "s.npz")
    assert len(d.y) == 3 and sorted(set(d.groups)) == ["smic/s01", "smic/s02"]


def test_prepare_sequences_train_and_export_a_cnn_gru(rendered_casme2, tmp_path):
    from microexpr.recognize.onnx_infer import OnnxRecognizer

    out = tmp_path / "seq.npz"
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "datasets",
            "prepare",
            "casme2",
            str(rendered_casme2),
            "-o",
            str(out),
            "--labels",
            "emotion",
            "--sequence",
            "2",
            "--size",
            "16",
        ],
    )
    assert r.exit_code == 0, r.output
    d = load_flow_dataset(out)
    assert d.x.shape == (4, 2, 3, 16, 16)
    assert np.abs(d.x[:, 1]).mean() > np.abs(d.x[:, 0]).mean()  # the second step reaches the apex
    r = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(out),
            "--model",
            "cnn_gru",
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--threads",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(tmp_path / "run" / "model.pt"), "-o", str(tmp_path / "gru.onnx")])
    assert r.exit_code == 0, r.output
    rec = OnnxRecognizer(tmp_path / "gru.onnx")
    assert rec.input_shape == (2, 3, 16, 16) and len(rec.predict(d.x)) == 4
