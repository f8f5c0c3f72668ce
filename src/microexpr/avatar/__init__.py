"""Retargeting: captured blendshapes and AUs to avatar rigs (ARKit, Live Link Face, VRM 0.x, VRM 1.0).

Rigs are plain JSON (or YAML) files: ``rigs/<target>.json`` ships one per built-in target; copy one, edit it
and pass its path wherever a rig name is accepted.
"""

from __future__ import annotations

from microexpr.avatar.retarget import Retargeter, parse_gain
from microexpr.avatar.rig import BUILTIN_RIGS, TARGET_CHANNELS, Rig, load_rig

__all__ = ["BUILTIN_RIGS", "TARGET_CHANNELS", "Retargeter", "Rig", "load_rig", "parse_gain"]
