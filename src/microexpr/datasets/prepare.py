"""``microexpr datasets prepare``: a recognition dataset -> the flow dataset file (.npz)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from microexpr.datasets.clips import clip_label, load_clips
from microexpr.errors import InputError, OptionError
from microexpr.recognize.flowdata import FlowDataset, save_flow_dataset


def _read(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def prepare(
    name: str,
    root: Path | str,
    out: Path | str,
    *,
    size: int = 28,
    labels: str = "megc3",
    align: bool = True,
    gt: Path | str | None = None,
    sequence: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, list[str]]:
    """Compute onset-apex flow for every clip and write the flow dataset file.

    Args:
        name: casme2, samm, smic, casme3 or megc2019.
        root: the dataset's folder.
        out: the .npz to write (atomically).
        size: side of the flow maps.
        labels: "megc3" (3 classes; others dropped) or "emotion" (the dataset's own words).
        align: find the face with the landmarker on the onset frame and align both frames with it;
            False for pre-cropped faces (the whole image is the face).
        gt: MEGC2019 list when not under ``root``.
        sequence: 0 for one onset-apex map per clip (N, 3, H, W); T > 1 for flow from the onset to T frames
            evenly spaced up to the apex (N, T, 3, H, W), for ``--model cnn_gru``.
        progress: called with (done, total).

    Returns:
        The path written and warnings (clips skipped, and why).
    """
    if not (sequence == 0 or 2 <= sequence <= 64):
        raise OptionError(f"sequence must be 0 or in [2, 64], but got {sequence}")
    clips = load_clips(name, root, gt=gt)
    keep = [(c, clip_label(c, labels)) for c in clips]
    keep = [(c, lab) for c, lab in keep if lab]
    if not keep:
        raise InputError(f"{root}: no clip has a {labels} label")
    classes = sorted({lab for _, lab in keep})
    if labels == "megc3":
        classes = [c for c in ("negative", "positive", "surprise") if c in classes]
    lm = None
    if align:
        from microexpr.track.landmarker import FaceLandmarker

        lm = FaceLandmarker(None, max_faces=1, mode="image")
    from microexpr.recognize.features import onset_apex_flow

    xs, ys, gs, ids, warnings = [], [], [], [], []
    try:
        for i, (c, lab) in enumerate(keep):
            onset, apex = _read(c.frames[c.onset]), _read(c.frames[c.apex])
            landmarks = None
            if lm is not None:
                faces = lm.detect(onset)
                if not faces:
                    warnings.append(f"{c.id}: no face found on the onset frame; skipped")
                    continue
                landmarks = faces[0].landmarks_px
            try:
                if sequence > 1:
                    steps = np.linspace(c.onset, c.apex, sequence + 1)[1:].round().astype(int)
                    xs.append(
                        np.stack(
                            [onset_apex_flow(onset, _read(c.frames[j]), landmarks, size=size) for j in steps]
                        )
                    )
                else:
                    xs.append(onset_apex_flow(onset, apex, landmarks, size=size))
            except ValueError as e:
                warnings.append(f"{c.id}: {e}; skipped")
                continue
            ys.append(classes.index(lab))
            gs.append(c.subject)
            ids.append(c.id)
            if progress is not None:
                progress(i + 1, len(keep))
    finally:
        if lm is not None:
            lm.close()
    if not xs:
        raise InputError(f"{root}: no clip could be turned into flow ({warnings[0] if warnings else ''})")
    data = FlowDataset(np.stack(xs), np.array(ys, np.int64), np.array(gs), tuple(classes), np.array(ids))
    return save_flow_dataset(out, data), warnings
