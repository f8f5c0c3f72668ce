from pathlib import Path

import numpy as np

from microexpr.facs import AU_CODES
from microexpr.measure.au import ALL_FEATURE_NAMES, RULE_BY_CODE, au_intensity, au_presence, markdown_table


def test_docs_table_is_the_one_the_code_generates():
    doc = (Path(__file__).parents[2] / "docs" / "aus.md").read_text(encoding="utf-8")
    assert markdown_table() in doc


def test_neutral_face_reads_zero_and_a_big_change_saturates_at_5():
    n = len(ALL_FEATURE_NAMES)
    geo_n = np.full(n, 0.1)
    bs_n = np.full(52, 0.05)
    still = au_intensity(geo_n, bs_n, geo_neutral=geo_n, bs_neutral=bs_n)
    assert still.shape == (len(AU_CODES),) and np.all(still == 0) and not au_presence(still).any()
    rule = RULE_BY_CODE["AU12"]
    for rise, expected in ((0.5 * rule.geo_full, 5 * 0.5 * (1 - rule.w_bs)), (1.0, 5.0)):  # half scale; huge
        raised = geo_n.copy()
        raised[ALL_FEATURE_NAMES.index("corner_raise_R")] += rise  # lip corners rise, in IOD
        raised[ALL_FEATURE_NAMES.index("corner_raise_L")] += rise
        au = dict(zip(AU_CODES, au_intensity(raised, bs_n, geo_neutral=geo_n, bs_neutral=bs_n)))
        assert abs(au["AU12"] - expected) < 1e-4
        assert au["AU15"] == 0.0


def test_photos_without_a_neutral_use_blendshapes_alone():
    bs = np.zeros(52)
    bs[[44, 45]] = 0.8  # mouthSmileLeft/Right at their full-scale score
    au = dict(
        zip(
            AU_CODES,
            au_intensity(
                np.zeros(len(ALL_FEATURE_NAMES)), bs, geo_neutral=None, bs_neutral=None, geometry=False
            ),
        )
    )
    assert au["AU12"] == 5.0 and au["AU15"] == 0.0
