"""AU-prototype emotions and the MEGC 3-class mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from microexpr.recognize.emotion import au_numbers, emotion_from_aus, megc_class, prototype_table_markdown


@pytest.mark.parametrize(
    ("aus", "emotion", "megc"),
    [
        ("AU06+AU12", "happiness", "positive"),
        ("AU12+AU25", "happiness", "positive"),
        ("AU01+AU02+AU05+AU26", "surprise", "surprise"),
        ("AU01+AU04+AU15", "sadness", "negative"),
        ("AU04+AU05+AU07+AU23", "anger", "negative"),
        ("AU09+AU10", "disgust", "negative"),
        ("AU14", "contempt", "negative"),
        ("AU01+AU02+AU04+AU05+AU20", "fear", "negative"),
        ("AU45", "others", None),
        ("AU25", "others", None),
        ("", "others", None),
    ],
)
def test_prototypes_give_the_expected_emotion_and_class(aus, emotion, megc):
    assert emotion_from_aus(aus) == emotion
    assert megc_class(emotion_from_aus(aus)) == megc


def test_dataset_au_strings_with_sides_and_alternatives():
    assert au_numbers("R12+L14") == {12, 14}
    assert au_numbers("4or7") == {4, 7}
    assert au_numbers("AU1+AU2/AU5") == {1, 2, 5}
    assert megc_class("Repression") == "negative"
    assert megc_class("Others") is None


def test_the_documented_table_is_the_one_in_the_code():
    doc = (Path(__file__).parents[2] / "docs" / "recognition.md").read_text()
    assert prototype_table_markdown() in doc


def test_the_package_and_analysis_path_never_import_torch_or_onnxruntime():
    import subprocess
    import sys

    code = (
        "import sys, microexpr, microexpr.cli, microexpr.pipeline, microexpr.recognize.label;"
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_synthesised_emotion_is_recognised_as_itself():
    """Synthesis (synth/expression.py, with weights and sides) and recognition (PROTOTYPES) keep their own
    tables; they must not drift apart: each emotion's synthesised AUs read back as that emotion."""
    from microexpr.recognize.emotion import emotion_from_aus
    from microexpr.synth.expression import EMOTION_AUS

    for emotion, aus in EMOTION_AUS.items():
        assert emotion_from_aus([code for code, _weight, _side in aus]) == emotion
