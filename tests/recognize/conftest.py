"""Builders for recognition tests: a toy flow dataset with a known signal, and rendered flow samples."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.recognize.flowdata import FlowDataset, save_flow_dataset

CLASSES = ("negative", "positive", "surprise")


def toy_dataset(n_subjects: int = 5, per_subject: int = 12, size: int = 16, seed: int = 0) -> FlowDataset:
    """Random flow maps whose class sets how far a patch moves (u for positive, v for surprise)."""
    rng = np.random.default_rng(seed)
    n = n_subjects * per_subject
    y = np.tile(np.array([0, 0, 1, 2] * per_subject)[:per_subject], n_subjects).astype(np.int64)
    x = rng.normal(0, 0.3, (n, 3, size, size)).astype(np.float32)
    x[y == 1, 0, 2:6, 2:6] += 2.0
    x[y == 2, 1, 8:12, 8:12] += 2.0
    groups = np.repeat([f"sub{i:02d}" for i in range(n_subjects)], per_subject)
    ids = np.array([f"{g}/c{i:03d}" for i, g in enumerate(groups)])
    return FlowDataset(x, y, groups, CLASSES, ids)


@pytest.fixture
def toy_npz(tmp_path):
    return save_flow_dataset(tmp_path / "toy.npz", toy_dataset())


@pytest.fixture(scope="session")
def rendered_flows(face_model) -> FlowDataset:
    """Rendered micro-expressions of two faces (astronaut, mirrored Hopper), 28x28 flow."""
    from microexpr.recognize.synthetic import render_flow_dataset

    return render_flow_dataset(
        {"negative": 4, "positive": 3, "surprise": 3}, faces=("astronaut", "hopper_flipped"), seed=1
    )
