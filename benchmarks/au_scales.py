"""AU scales per MediaPipe running mode: how far each AU's geometry score moves for the same rendered movement
in video mode (temporal filter) and image mode (each frame alone), and whether each AU still dominates its
own movement in each mode.

Renders one sweep clip per face (each AU rises to intensity 3 and falls, one after another), analyses it in
both modes, and prints per AU: the geometry score at the apex in each mode, their ratio (what
``IMAGE_MODE_RATIO`` in src/microexpr/measure/au.py holds), the AU's own response, and the other movements
it responds to at least half as much (the dominance test of tests/pipeline/test_measures.py).

    python benchmarks/au_scales.py [--faces astronaut hopper] [--fps 30]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

LEAD_S, PULSE_S, GAP_S, PEAK = 1.5, 0.6, 0.5, 3.0
LINKED = {("AU25", "AU26")}


def schedule() -> list[tuple[str, float, float]]:
    from microexpr.facs import AU_CODES

    out, t = [], LEAD_S
    for code in AU_CODES:
        out.append((code, t, t + PULSE_S))
        t += PULSE_S + GAP_S
    return out


def render(face: str, fps: float, path: Path) -> Path:
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    sched = schedule()
    n = int(round((sched[-1][2] + GAP_S) * fps))
    curves = {
        code: au_pulse(n, fps, onset_s=on, apex_s=0.5 * (on + off), offset_s=off, peak=PEAK)
        for code, on, off in sched
    }
    return write_video(render_clip(sample_face(face), curves, fps=fps), path, fps=fps)


def measure(path: Path, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(geometry score per AU at its own apex (n_au,), response matrix M[i, j] of AU i to movement j)."""
    from microexpr import analyze_video
    from microexpr.measure.au import _D, RULES

    r = analyze_video(path, landmark_mode=mode)
    c, b = r.columns, r.baselines[0]
    t = c["t_s"]
    gn = np.concatenate([b.geo_neutral, np.zeros(c["geo"].shape[1] - len(b.geo_neutral))])
    d = _D(c["geo"] - gn, gn)
    au = c["au_r"]
    neutral = t < LEAD_S - 0.3
    geo = np.zeros(len(RULES))
    m = np.zeros((len(RULES), len(RULES)))
    for j, (_code, on, off) in enumerate(schedule()):
        mid = 0.5 * (on + off)
        hold = (t > mid - 0.1) & (t < mid + 0.1)
        g = np.asarray(RULES[j].geo(d))
        geo[j] = g[hold].mean() - g[neutral].mean()
        m[:, j] = au[hold].mean(0) - au[neutral].mean(0)
    return geo, m


def confusions(m: np.ndarray) -> list[str]:
    from microexpr.facs import AU_CODES

    out = []
    for i, code in enumerate(AU_CODES):
        own = m[i, i]
        bad = [
            f"{AU_CODES[j]} {m[i, j]:.2f}"
            for j in range(len(AU_CODES))
            if j != i and (code, AU_CODES[j]) not in LINKED and own <= 2.0 * m[i, j]
        ]
        if own <= 1.0 or bad:
            out.append(f"{code} (own {own:.2f}): {', '.join(bad) or 'too weak'}")
    return out


def main() -> None:
    from microexpr.facs import AU_CODES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", nargs="+", default=["astronaut", "hopper"])
    ap.add_argument("--fps", type=float, default=30.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for face in a.faces:
            clip = render(face, a.fps, Path(tmp) / f"{face}.mp4")
            gv, mv = measure(clip, "video")
            gi, mi = measure(clip, "image")
            print(
                f"\n## {face}\n\n| AU | geometry video | geometry image | image/video | own video | own image |"
            )
            print("|---|---|---|---|---|---|")
            for k, code in enumerate(AU_CODES):
                ratio = gi[k] / gv[k] if abs(gv[k]) > 1e-6 else float("nan")
                print(
                    f"| {code} | {gv[k]:.4f} | {gi[k]:.4f} | {ratio:.2f} | {mv[k, k]:.2f} | {mi[k, k]:.2f} |"
                )
            for mode, m in (("video", mv), ("image", mi)):
                bad = confusions(m)
                print(
                    f"\n{mode} mode: "
                    + ("every AU dominates its own movement" if not bad else "; ".join(bad))
                )


if __name__ == "__main__":
    main()
