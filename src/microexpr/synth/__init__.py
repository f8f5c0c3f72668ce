"""Synthesis: test videos with known truth, rendered from a real face photo and Action Unit curves.

Modules: ``photos`` (face photos and the sample faces), ``motions`` (how each AU moves the face), ``render``
(the warp renderer), ``openings`` (eyes and mouth), ``curves`` (AU intensity over time), ``clip`` (frames of
one or several faces), ``videowrite`` (encoding), ``sample`` (the demo clip). Names are loaded on first use,
so that importing one module does not pull in the others (OpenCV, SciPy, PyAV).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_WHERE = {
    "FacePhoto": "photos",
    "face_photo": "photos",
    "sample_face": "photos",
    "SAMPLE_FACES": "photos",
    "AU_MOTIONS": "motions",
    "AUMotion": "motions",
    "Move": "motions",
    "GROUPS": "motions",
    "Renderer": "render",
    "rotation_matrix": "render",
    "au_pulse": "curves",
    "render_clip": "clip",
    "write_video": "videowrite",
    "make_sample_video": "sample",
    "synth_video": "scenario",
    "plan_events": "scenario",
    "NUISANCES": "scenario",
    "SAMPLE_EVENTS": "sample",
    "SampleEvent": "sample",
    "sample_curves": "sample",
    "sample_head_motion": "sample",
    "ExpressionTrack": "expression",
    "expression_track": "expression",
    "layer": "expression",
}
__all__ = [
    "AUMotion",
    "AU_MOTIONS",
    "ExpressionTrack",
    "FacePhoto",
    "GROUPS",
    "Move",
    "Renderer",
    "SAMPLE_EVENTS",
    "SAMPLE_FACES",
    "SampleEvent",
    "au_pulse",
    "expression_track",
    "face_photo",
    "layer",
    "make_sample_video",
    "render_clip",
    "rotation_matrix",
    "sample_curves",
    "sample_face",
    "sample_head_motion",
    "write_video",
]

if TYPE_CHECKING:
    from microexpr.synth.clip import render_clip
    from microexpr.synth.curves import au_pulse
    from microexpr.synth.expression import ExpressionTrack, expression_track, layer
    from microexpr.synth.motions import AU_MOTIONS, GROUPS, AUMotion, Move
    from microexpr.synth.photos import SAMPLE_FACES, FacePhoto, face_photo, sample_face
    from microexpr.synth.render import Renderer, rotation_matrix
    from microexpr.synth.sample import (
        SAMPLE_EVENTS,
        SampleEvent,
        make_sample_video,
        sample_curves,
        sample_head_motion,
    )
    from microexpr.synth.videowrite import write_video


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(import_module(f"microexpr.synth.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'microexpr.synth' has no attribute {name!r}")
