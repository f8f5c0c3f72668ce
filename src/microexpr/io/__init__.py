"""Sources of frames: video files (PyAV), image-sequence folders and photos.

``open_source(path, ...)`` picks the right reader once; every reader yields
:class:`~microexpr.types.Frame` objects (RGB uint8, read-only) in presentation order.
"""

from microexpr.io.base import Source
from microexpr.io.images import IMAGE_SUFFIXES, natural_key, read_image
from microexpr.io.source import open_source

__all__ = ["IMAGE_SUFFIXES", "Source", "natural_key", "open_source", "read_image"]
