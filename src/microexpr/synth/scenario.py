"""Synthetic ground truth for spotting: a real face photo with micro- and macro-expressions, distracting
blinks and chosen nuisances, rendered at any frame rate, with its truth table.

Micro-expressions use 1-3 AUs, last 150-450 ms and stay at low amplitude; macro-expressions last 0.8-3 s.
Every choice is drawn from a seeded generator, so the same seed gives the same clip and truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexpr.errors import OptionError
from microexpr.synth.curves import au_pulse

NUISANCES = ("head", "flicker", "blur", "noise", "occlusion")
# AU combinations that occur as spontaneous expressions (EMFACS-style prototypes and their parts)
COMBOS: tuple[tuple[str, ...], ...] = (
    ("AU12",),
    ("AU06", "AU12"),
    ("AU04",),
    ("AU01", "AU02"),
    ("AU14",),
    ("AU15", "AU17"),
    ("AU09", "AU10"),
    ("AU01", "AU04"),
    ("AU12", "AU25"),
    ("AU20",),
    ("AU01", "AU02", "AU05"),
    ("AU04", "AU07"),
)
LEAD_S = 2.0  # neutral start: the calibration stretch
GAP_S = 0.5  # least rest between two events


@dataclass(frozen=True)
class SynthEvent:
    """One expression of a synthetic clip (times in seconds; intensities on the FACS 0-5 scale)."""

    kind: str
    onset_s: float
    apex_s: float
    offset_s: float
    aus: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Nuisance:
    """One nuisance interval: kind, start and end in seconds, and its strength (kind-specific units)."""

    kind: str
    start_s: float
    end_s: float
    strength: float


def plan_events(*, seconds: float, seed: int, n_micro: int, n_macro: int, n_blinks: int) -> list[SynthEvent]:
    """Place the events in random order after the neutral lead-in, never overlapping (GAP_S apart)."""
    rng = np.random.default_rng(seed)
    kinds = ["micro"] * n_micro + ["macro"] * n_macro + ["blink"] * n_blinks
    rng.shuffle(kinds)
    durations = []
    for k in kinds:
        if k == "micro":
            durations.append(rng.uniform(0.15, 0.45))
        elif k == "macro":
            durations.append(rng.uniform(0.8, 3.0))
        else:
            durations.append(rng.uniform(0.12, 0.25))
    free = seconds - LEAD_S - GAP_S * (len(kinds) + 1) - sum(durations)
    if free < 0:
        raise OptionError(
            f"{seconds:g} s is too short for {n_micro} micro, {n_macro} macro and {n_blinks} blinks "
            f"(needs at least {seconds - free:.1f} s)"
        )
    slack = rng.dirichlet(np.ones(len(kinds) + 1)) * free if kinds else np.array([free])
    events, t = [], LEAD_S + GAP_S
    for k, dur, extra in zip(kinds, durations, slack):
        t += extra
        if k == "blink":
            aus: tuple[tuple[str, float], ...] = (("AU45", 5.0),)
            apex = t + 0.45 * dur
        else:
            combo = COMBOS[int(rng.integers(len(COMBOS)))]
            lo, hi = (0.8, 2.0) if k == "micro" else (2.5, 4.0)
            aus = tuple((c, float(round(rng.uniform(lo, hi), 2))) for c in combo)
            apex = t + rng.uniform(0.3, 0.45) * dur  # fast onset, slower offset
        events.append(SynthEvent(k, round(t, 4), round(apex, 4), round(t + dur, 4), aus))
        t += dur + GAP_S
    return events


def plan_nuisances(kinds: set[str], *, seconds: float, seed: int) -> list[Nuisance]:
    """Nuisance intervals (none in the neutral lead-in, so calibration stays clean)."""
    unknown = sorted(set(kinds) - set(NUISANCES))
    if unknown:
        raise OptionError(f"unknown nuisance(s) {', '.join(unknown)}; choose from {', '.join(NUISANCES)}")
    rng = np.random.default_rng(seed + 1)
    out = []
    span = max(seconds - LEAD_S, 0.1)
    for k in sorted(kinds):
        if k in ("head", "noise"):
            out.append(Nuisance(k, LEAD_S, seconds, 3.0 if k == "head" else 4.0))  # degrees / grey levels
        elif k == "flicker":
            out.append(Nuisance(k, LEAD_S, seconds, 0.04))  # relative brightness ripple
            s = LEAD_S + rng.uniform(0.1, 0.9) * span
            out.append(Nuisance("flash", s, s + 0.05, 0.25))
        elif k == "blur":
            s = LEAD_S + rng.uniform(0.1, 0.8) * span
            out.append(Nuisance(k, s, min(seconds, s + 0.3), 3.0))  # Gaussian sigma in px
        elif k == "occlusion":
            s = LEAD_S + rng.uniform(0.1, 0.8) * span
            out.append(Nuisance(k, s, min(seconds, s + 0.6), 1.0))
    return out


def _apply(
    frame: np.ndarray, t: float, nuisances: list[Nuisance], lm: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    import cv2

    img = frame
    for nu in nuisances:
        if not nu.start_s <= t < nu.end_s:
            continue
        if nu.kind == "flicker":
            img = np.clip(img * (1.0 + nu.strength * np.sin(2 * np.pi * 7.3 * t)), 0, 255).astype(np.uint8)
        elif nu.kind == "flash":
            img = np.clip(img * (1.0 + nu.strength), 0, 255).astype(np.uint8)
        elif nu.kind == "blur":
            img = cv2.GaussianBlur(img, (0, 0), nu.strength)
        elif nu.kind == "noise":
            img = np.clip(img + rng.normal(0, nu.strength, img.shape), 0, 255).astype(np.uint8)
        elif nu.kind == "occlusion":  # a hand-coloured block over the mouth and chin
            x0, x1 = (
                int(lm[61, 0] - 0.3 * (lm[291, 0] - lm[61, 0])),
                int(lm[291, 0] + 0.3 * (lm[291, 0] - lm[61, 0])),
            )
            y0, y1 = int(lm[13, 1] - 5), int(lm[152, 1] + 10)
            img = img.copy()
            img[max(y0, 0) : y1, max(x0, 0) : x1] = (190, 150, 125)
    return img


def truth_table(events: list[SynthEvent], fps: float, *, video: str) -> pd.DataFrame:
    """The truth as the evaluation reads it: frames are ``round(t * fps)``."""
    rows = [
        {
            "video": video,
            "kind": e.kind,
            "onset_frame": round(e.onset_s * fps),
            "apex_frame": round(e.apex_s * fps),
            "offset_frame": round(e.offset_s * fps),
            "onset_s": e.onset_s,
            "apex_s": e.apex_s,
            "offset_s": e.offset_s,
            "duration_ms": round((e.offset_s - e.onset_s) * 1000.0, 1),
            "aus": "+".join(c for c, _ in e.aus),
            "peaks": "+".join(f"{p:g}" for _, p in e.aus),
        }
        for e in events
    ]
    from microexpr.outputs import EVENT_COLUMNS

    # the events table's columns from kind to aus, with the video first and the AUs' peaks last
    return pd.DataFrame(rows, columns=["video", *EVENT_COLUMNS[1:10], "peaks"])


def synth_video(
    path: Path,
    *,
    fps: float = 120.0,
    seconds: float = 20.0,
    face: str = "astronaut",
    nuisances: set[str] | frozenset[str] = frozenset(),
    n_micro: int = 4,
    n_macro: int = 2,
    n_blinks: int = 3,
    seed: int = 0,
    nuisance_plan: list[Nuisance] | None = None,
) -> tuple[Path, Path]:
    """Render a spotting clip and its truth.

    ``nuisance_plan`` gives the nuisances' exact times instead of drawing them from ``nuisances`` and the seed
    (tests place a flash, a blur or a hand exactly where they want it).

    Writes ``path`` (the video), ``<stem>.truth.csv`` (one row per event: kind, onset/apex/offset frame and
    seconds, AUs) and ``<stem>.nuisances.json`` beside it.

    Returns:
        (video path, truth path).
    """
    from microexpr.outputs import atomic_write_text
    from microexpr.synth.clip import render_clip
    from microexpr.synth.photos import sample_face
    from microexpr.synth.render import Renderer
    from microexpr.synth.videowrite import write_video

    if not 15 <= fps <= 240:
        raise OptionError(f"--fps must be between 15 and 240, but got {fps:g}")
    events = plan_events(seconds=seconds, seed=seed, n_micro=n_micro, n_macro=n_macro, n_blinks=n_blinks)
    nus = (
        list(nuisance_plan)
        if nuisance_plan is not None
        else plan_nuisances(set(nuisances), seconds=seconds, seed=seed)
    )
    n = int(round(seconds * fps))
    curves: dict[str, np.ndarray] = {}
    for e in events:
        for code, peak in e.aus:
            pulse = au_pulse(n, fps, onset_s=e.onset_s, apex_s=e.apex_s, offset_s=e.offset_s, peak=peak)
            curves[code] = np.maximum(curves.get(code, np.zeros(n, np.float32)), pulse)
    t = np.arange(n) / fps
    head = next((x for x in nus if x.kind == "head"), None)
    motion = {}
    if head is not None:
        # eased in over half a second: a real head does not jump, and a jump would be an event of its own
        on = np.clip((t - head.start_s) / 0.5, 0.0, 1.0)
        on = on * on * (3.0 - 2.0 * on)
        motion = {
            "yaw_deg": on * head.strength * np.sin(2 * np.pi * 0.23 * t),
            "pitch_deg": on * 0.6 * head.strength * np.sin(2 * np.pi * 0.17 * t + 1.0),
            "roll_deg": on * 0.5 * head.strength * np.sin(2 * np.pi * 0.11 * t + 2.0),
        }
    renderer = Renderer(sample_face(face))
    lm = renderer.photo.landmarks_px
    rng = np.random.default_rng(seed + 2)
    frames = (
        _apply(img, k / fps, nus, lm, rng)
        for k, img in enumerate(render_clip(renderer, curves, fps=fps, n_frames=n, **motion))
    )
    path = Path(path)
    write_video(frames, path, fps=fps)
    truth = path.with_name(f"{path.stem}.truth.csv")
    atomic_write_text(truth, truth_table(events, fps, video=path.stem).to_csv(index=False))
    atomic_write_text(
        path.with_name(f"{path.stem}.nuisances.json"), json.dumps([asdict(x) for x in nus], indent=1)
    )
    return path, truth
