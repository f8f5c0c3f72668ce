"""microexpr: facial micro-expressions from video, as signals for research and digital humans."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze_video", "iter_analyze", "AnalyzeOptions"]


def __getattr__(name: str) -> object:
    # Lazy: `import microexpr` stays light (the CLI's --help must not load MediaPipe).
    if name in ("analyze_video", "iter_analyze", "AnalyzeOptions", "Analysis"):
        from microexpr import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'microexpr' has no attribute {name!r}")
