"""Batch analysis of many videos: resumable, on local worker processes or a Ray cluster."""

from __future__ import annotations

__all__ = ["BatchInput", "BatchOptions", "find_inputs", "run_batch"]


def __getattr__(name: str):  # noqa: ANN202  lazy: `microexpr --help` must not import pandas
    if name in ("BatchInput", "find_inputs"):
        from microexpr.batch import inputs

        return getattr(inputs, name)
    if name in ("BatchOptions", "run_batch"):
        from microexpr.batch import run

        return getattr(run, name)
    raise AttributeError(name)
