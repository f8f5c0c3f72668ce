"""Shared test set-up. Builders of synthetic inputs live beside the tests that use them (tests/*/conftest.py)."""

from __future__ import annotations

import pytest

from microexpr.track.model import model_path, require_model


@pytest.fixture(scope="session")
def face_model():
    """The installed, hash-checked face model. Tests that need it fail (not skip) when it is missing."""
    try:
        return require_model()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{e} (expected at {model_path()})")
