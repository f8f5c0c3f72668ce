"""The preview page of ``microexpr serve``: a 2D vector face driven by the ARKit blendshapes, AU bars and an
event feed. Static files only (``static/``), shipped as package data; no CDN, nothing fetched from outside."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The folder with index.html, app.js and style.css."""
    return Path(str(resources.files("microexpr.web") / "static"))
