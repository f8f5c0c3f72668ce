"""Live mode: sources with capture times, a threaded pipeline with bounded queues, measured latency."""

from microexpr.live.pipeline import LiveStats, run_live
from microexpr.live.sources import LiveFrame, LiveSource, open_live

__all__ = ["LiveFrame", "LiveSource", "LiveStats", "open_live", "run_live"]
