"""microexpr: facial micro-expressions from video, as signals for research and digital humans."""

from __future__ import annotations

__version__ = "0.1.0"
