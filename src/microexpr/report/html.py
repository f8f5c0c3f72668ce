"""report.html: one self-contained page per analysis (plotly inlined, images as data URIs; opens offline).

It shows, per face: AU timelines with events shaded, head pose and quality traces, and an event table with
the aligned face at onset / apex / offset and, for each micro-expression, a motion-magnified replay of its
apex region (the onset face warped by a multiple of the optical flow onset -> frame, played slowed down).
Images come from the aligned 128 px grey crops the analysis already keeps; with ``blur_faces`` every image
is pixelated so that nobody can be recognised (the movement stays visible, coarsely).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microexpr.facs import ACTION_UNITS, AU_CODES

MAX_POINTS = 4000  # per trace: longer tracks are max-pooled so that short peaks survive
MAX_EVENT_IMAGES = 200  # events beyond this get no images (keeps the file small)


@dataclass(frozen=True)
class ReportOptions:
    """What the report shows."""

    blur_faces: bool = False  # pixelate every face image
    magnify: float = 4.0  # motion magnification factor of the replays
    replay_slowdown: float = 4.0  # replays play this many times slower than real time
    pixel_block: int = 12  # pixelation block in crop pixels (of 128) when blurring


# region of the aligned 128 px crop shown in a replay, by the region of the event's strongest AU
_REGION_ROWS = {"brow": (10, 70), "eye": (25, 80), "nose": (45, 95), "mouth": (60, 124), "jaw": (60, 128)}
_AU_REGION = {a.code: a.region for a in ACTION_UNITS}


def _png(img: np.ndarray, scale: int = 1) -> str:
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(img, np.uint8))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _gif(frames: list[np.ndarray], frame_ms: float, scale: int = 2, *, smooth: bool = True) -> str:
    from PIL import Image

    ims = [Image.fromarray(np.ascontiguousarray(f, np.uint8)) for f in frames]
    how = Image.BILINEAR if smooth else Image.NEAREST  # nearest keeps pixelated blocks blocks
    ims = [im.resize((im.width * scale, im.height * scale), how) for im in ims]
    buf = io.BytesIO()
    ims[0].save(
        buf, format="GIF", save_all=True, append_images=ims[1:], duration=max(20, int(frame_ms)), loop=0
    )
    return "data:image/gif;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def pixelate(img: np.ndarray, block: int) -> np.ndarray:
    """Coarse blocks of ``block`` pixels: a face cannot be recognised, large movements stay visible."""
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def magnified_replay(crops: list[np.ndarray], magnify: float) -> list[np.ndarray]:
    """The first crop warped by ``magnify`` x the optical flow from it to each crop (Lagrangian magnification).

    Args:
        crops: aligned grey crops (H, W) uint8 from onset to offset.
        magnify: how many times the motion is exaggerated.
    """
    import cv2

    base = np.ascontiguousarray(crops[0], np.uint8)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    h, w = base.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = []
    for c in crops:
        flow = dis.calc(base, np.ascontiguousarray(c, np.uint8), None)
        # the flow leads from the onset to this frame; pulling the onset image back along a multiple of it
        # moves the features that far
        mx, my = gx - magnify * flow[..., 0], gy - magnify * flow[..., 1]
        out.append(cv2.remap(base, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return out


def _pool(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool long traces to MAX_POINTS (peaks of 40 ms movements survive; NaN stays a gap)."""
    n = len(t)
    if n <= MAX_POINTS:
        return t, y
    k = -(-n // MAX_POINTS)
    m = n // k * k
    tt = t[:m].reshape(-1, k)[:, 0]
    yy = y[:m].reshape(-1, k, *y.shape[1:])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return tt, np.nanmax(yy, axis=1)


_KIND_COLOUR = {
    "micro": "rgba(220,50,47,0.25)",
    "macro": "rgba(38,139,210,0.18)",
    "blink": "rgba(130,130,130,0.2)",
}


def _figures(cols: dict[str, np.ndarray], events: pd.DataFrame, face: int) -> list[tuple[str, dict]]:
    """(title, plotly figure as a dict) for one face."""
    rows = np.flatnonzero(cols["face_id"] == face)
    t = cols["t_s"][rows]
    ok = cols["success"][rows] > 0
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": float(e.onset_s),
            "x1": float(e.offset_s) if e.offset_s > e.onset_s else float(e.onset_s) + 0.01,
            "y0": 0,
            "y1": 1,
            "fillcolor": _KIND_COLOUR.get(e.kind, "rgba(0,0,0,0.1)"),
            "line": {"width": 0},
            "layer": "below",
        }
        for e in events[events["face_id"] == face].itertuples()
    ]

    def traces(y: np.ndarray, names: list[str], scale: float = 1.0) -> list[dict]:
        y = np.where(ok[:, None], y * scale, np.nan)
        tt, yy = _pool(t, y)
        return [
            {
                "type": "scattergl" if len(tt) > 2000 else "scatter",
                "mode": "lines",
                "name": n,
                "x": tt.tolist(),
                "y": [None if not np.isfinite(v) else round(float(v), 4) for v in yy[:, i]],
            }
            for i, n in enumerate(names)
        ]

    def layout(title: str, ytitle: str, with_shapes: bool = True) -> dict:
        return {
            "title": {"text": title},
            "height": 320,
            "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
            "xaxis": {"title": {"text": "time (s)"}},
            "yaxis": {"title": {"text": ytitle}},
            "shapes": shapes if with_shapes else [],
            "legend": {"orientation": "h"},
        }

    q = cols["quality"][rows]
    quality = np.column_stack(
        [q[:, 0] / 10.0, q[:, 1] / 10.0, q[:, 3] / 10.0, cols["occlusion"][rows] * 10.0]
    )
    return [
        (
            "AU intensity",
            {
                "data": traces(cols["au_r"][rows], list(AU_CODES)),
                "layout": layout(f"Face {face}: AU intensity (0-5), events shaded", "intensity"),
            },
        ),
        (
            "Head pose",
            {
                "data": traces(cols["pose"][rows][:, 3:6], ["pitch Rx", "yaw Ry", "roll Rz"], 180 / np.pi),
                "layout": layout(f"Face {face}: head pose", "degrees"),
            },
        ),
        (
            "Quality",
            {
                "data": traces(
                    quality, ["sharpness / 10", "luminance / 10", "head speed (deg/s) / 10", "occlusion x 10"]
                ),
                "layout": layout(f"Face {face}: quality", ""),
            },
        ),
    ]


def _event_images(
    e: Any,
    face: int,
    row_of: Callable[[int, int], int | None],
    crop: Callable[[int], np.ndarray],
    frames: np.ndarray,
    dt_s: float,
    opts: ReportOptions,
) -> dict[str, str]:
    def shown(img: np.ndarray) -> np.ndarray:
        return pixelate(img, opts.pixel_block) if opts.blur_faces else img

    out: dict[str, str] = {}
    for key in ("onset", "apex", "offset"):
        r = row_of(face, int(getattr(e, f"{key}_frame")))
        if r is not None:
            out[key] = _png(shown(crop(r)))
    if e.kind == "micro":
        span = frames[(frames >= int(e.onset_frame)) & (frames <= int(e.offset_frame))]
        rs = [r for r in (row_of(face, int(f)) for f in span) if r is not None]
        if len(rs) >= 2:
            aus = [a for a in str(e.aus or "").split("+") if a]
            y0, y1 = _REGION_ROWS.get(_AU_REGION.get(aus[0], "mouth") if aus else "mouth", (0, 128))
            mag = magnified_replay([crop(r) for r in rs], opts.magnify)
            clips = [shown(m)[y0:y1] for m in mag]
            clips += clips[-2:0:-1]  # there and back: the movement loops smoothly
            out["replay"] = _gif(clips, dt_s * 1000.0 * opts.replay_slowdown, smooth=not opts.blur_faces)
    return out


def render_report(
    cols: dict[str, np.ndarray],
    events: pd.DataFrame,
    meta: dict,
    *,
    crop: Callable[[int], np.ndarray] | None,
    options: ReportOptions = ReportOptions(),
) -> str:
    """The report page as one HTML string.

    Args:
        cols: the analysis's per-row columns (frame, face_id, t_s, success, pose, au_r, quality, occlusion).
        events: the events table.
        meta: meta.json's content (video, counts, warnings).
        crop: row -> aligned (128, 128) grey crop, or None for no images.
        options: what to show.
    """
    from plotly.offline import get_plotlyjs

    faces = sorted(int(f) for f in np.unique(cols["face_id"]) if f >= 0)
    index = {(int(f), int(fr)): i for i, (f, fr) in enumerate(zip(cols["face_id"], cols["frame"]))}

    def row_of(face: int, frame: int) -> int | None:
        return index.get((face, frame))

    t_all = cols["t_s"]
    dt_s = float(np.median(np.diff(np.unique(t_all)))) if len(np.unique(t_all)) > 1 else 1 / 30
    figs, plots_html = [], []
    for f in faces:
        for title, fig in _figures(cols, events, f):
            div = f"plot-{len(figs)}"
            figs.append({"id": div, "fig": fig})
            plots_html.append(f'<div class="plot" id="{div}" data-title="{html.escape(title)}"></div>')

    ev_rows = []
    for i, e in enumerate(events.itertuples()):
        imgs = (
            _event_images(
                e, int(e.face_id), row_of, crop, cols["frame"][cols["face_id"] == e.face_id], dt_s, options
            )
            if crop is not None and i < MAX_EVENT_IMAGES
            else {}
        )

        def img(key: str, cls: str = "thumb", imgs: dict[str, str] = imgs) -> str:
            return f'<img class="{cls}" alt="{key}" src="{imgs[key]}">' if key in imgs else ""

        emotion = (
            "" if e.emotion is None or (isinstance(e.emotion, float) and np.isnan(e.emotion)) else e.emotion
        )
        cut = str(getattr(e, "truncated", False)) == "True"  # its offset fell in a tracking gap
        offset_cell = (
            f'<td title="the face was lost here: the expression went on">{e.offset_s:.3f} (face lost)</td>'
            f"<td>&ge; {e.duration_ms:.0f}</td>"
            if cut
            else f"<td>{e.offset_s:.3f}</td><td>{e.duration_ms:.0f}</td>"
        )
        ev_rows.append(
            f'<tr class="event {html.escape(str(e.kind))}"><td>{int(e.face_id)}</td><td>{html.escape(str(e.kind))}</td>'
            f"<td>{e.onset_s:.3f}</td><td>{e.apex_s:.3f}</td>{offset_cell}"
            f"<td>{html.escape(str(e.aus))}</td><td>{html.escape(str(emotion))}</td><td>{e.confidence:.2f}</td>"
            f"<td>{img('onset')}{img('apex')}{img('offset')}</td><td>{img('replay', 'replay')}</td></tr>"
        )
    video = meta.get("video", {})
    counts = meta.get("counts", {})
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in meta.get("warnings", []))
    kinds = events["kind"].value_counts().to_dict() if len(events) else {}
    summary = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "no events"
    note = (
        "Faces are pixelated (--blur-faces)."
        if options.blur_faces
        else "Images are aligned grey face crops from the video; use --blur-faces to pixelate them."
    )
    return _TEMPLATE.format(
        title=html.escape(Path(str(video.get("path", "video"))).name),
        plotly=get_plotlyjs(),
        video=html.escape(
            f"{video.get('width')}x{video.get('height')}, {video.get('fps') or 0:.2f} fps, "
            f"{counts.get('frames', 0)} frames, {counts.get('faces', 0)} face(s)"
        ),
        summary=html.escape(summary),
        note=html.escape(note),
        magnify=f"{options.magnify:g}",
        slow=f"{options.replay_slowdown:g}",
        warnings=f"<ul class='warnings'>{warnings}</ul>" if warnings else "",
        plots="\n".join(plots_html),
        rows="\n".join(ev_rows) or '<tr><td colspan="11">No events.</td></tr>',
        figs=json.dumps(figs, allow_nan=False).replace("</", "<\\/"),
        meta=html.escape(
            json.dumps({k: meta.get(k) for k in ("software", "model", "parameters")}, indent=1, default=str)
        ),
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>microexpr report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.4em; }} .sub {{ color: #555; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: middle; }}
tr.micro td:nth-child(2) {{ color: #c0392b; font-weight: bold; }}
img.thumb {{ width: 64px; height: 64px; margin-right: 2px; image-rendering: pixelated; }}
img.replay {{ height: 96px; }}
.plot {{ width: 100%; min-height: 320px; }}
.warnings {{ color: #a04000; }}
details {{ margin-top: 1.5em; }}
</style>
<script>{plotly}</script>
</head><body>
<h1>microexpr report: {title}</h1>
<p class="sub">{video}. Events: {summary}. Shading: <span style="color:#dc322f">micro</span>,
<span style="color:#268bd2">macro</span>, <span style="color:#888">blink</span>.</p>
{warnings}
<h2>Events</h2>
<p class="sub">{note} Replays show each micro-expression's region with its motion magnified {magnify}x,
played {slow}x slower than real time.</p>
<table id="events"><thead><tr><th>face</th><th>kind</th><th>onset (s)</th><th>apex (s)</th><th>offset (s)</th>
<th>ms</th><th>AUs</th><th>emotion</th><th>conf.</th><th>onset / apex / offset</th><th>replay</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Signals</h2>
{plots}
<details><summary>Software, model and parameters</summary><pre>{meta}</pre></details>
<script>
const FIGS = {figs};
window.microexprPlots = 0;
for (const f of FIGS) {{
  Plotly.newPlot(f.id, f.fig.data, f.fig.layout, {{responsive: true, displaylogo: false}})
    .then(() => {{ window.microexprPlots += 1; }});
}}
</script>
</body></html>
"""


def write_report(path: Path, html_text: str) -> Path:
    """Write the page atomically."""
    from microexpr.outputs import atomic_write_bytes

    return atomic_write_bytes(Path(path), html_text.encode("utf-8"))
