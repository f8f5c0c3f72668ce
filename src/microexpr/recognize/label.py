"""Emotion labels for spotted events at analysis time: AU prototypes, and optionally an ONNX recogniser on
onset-apex flow of the aligned crops the pipeline already spilled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microexpr.measure.motion import CROP_PX, to_crop
from microexpr.recognize.emotion import emotion_from_aus, megc_class
from microexpr.types import N_LANDMARKS


def event_flows(events: pd.DataFrame, cols: dict[str, np.ndarray], workdir: Path, size: int) -> np.ndarray:
    """(n_events, 3, size, size) onset-apex flow of each event from the spilled crops and landmarks."""
    from microexpr.recognize.features import crop_flow

    n = int(cols["n"])
    crops = np.memmap(workdir / "crops.u8", np.uint8, "r", shape=(n, CROP_PX, CROP_PX))
    lms = np.memmap(workdir / "landmarks.f32", np.float32, "r", shape=(n, N_LANDMARKS, 3))
    out = np.zeros((len(events), 3, size, size), np.float32)
    for i, e in enumerate(events.itertuples(index=False)):
        face = cols["face_id"] == int(e.face_id)
        on = np.flatnonzero(face & (cols["frame"] == int(e.onset_frame)))
        ap = np.flatnonzero(face & (cols["frame"] == int(e.apex_frame)))
        if len(on) == 0 or len(ap) == 0:
            continue
        r0, r1 = int(on[0]), int(ap[0])
        lm = to_crop(lms[r0], cols["crop_m"][r0])
        out[i] = crop_flow(np.asarray(crops[r0]), np.asarray(crops[r1]), size=size, landmarks_crop=lm)
    return out


def label_events(
    events: pd.DataFrame, cols: dict[str, np.ndarray], workdir: Path, *, recognizer: Path | None = None
) -> pd.DataFrame:
    """The events table with ``emotion`` (AU prototype, or the recogniser's class when one is given),
    ``emotion_3`` (MEGC negative / positive / surprise, empty for others) and, with a recogniser,
    ``emotion_prototype`` (the AU prototype estimate kept beside it)."""
    ev = events.copy()
    proto = [emotion_from_aus(a) for a in ev["aus"].astype(str)]
    ev["emotion"] = proto
    if recognizer is not None:
        from microexpr.recognize.onnx_infer import OnnxRecognizer

        rec = OnnxRecognizer(recognizer)
        if len(rec.input_shape) != 3:
            from microexpr.errors import OptionError

            raise OptionError(
                f"{recognizer}: a sequence model; --recognizer takes a model on (3, H, W) flow maps"
            )
        labels = rec.predict(event_flows(ev, cols, workdir, rec.size)) if len(ev) else []
        ev["emotion"] = labels
        ev["emotion_prototype"] = proto
    ev["emotion_3"] = [megc_class(e) or "" for e in ev["emotion"]]
    return ev
