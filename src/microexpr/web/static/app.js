// microexpr live preview: a 2D vector face driven by ARKit blendshapes from the /ws stream.
// The subject faces the viewer: the subject's right (…Right channels) is drawn on the viewer's left.
"use strict";
// needs common.js (AU_CODES, $, num, buildBars, showAUs, setStatus, addEvent)

const MOUTH_Y = 350;          // mouth corners at rest (SVG units)
const CORNER_X = { r: 160, l: 240 };

// Page state, readable by tests and tools: the current geometry and what has been seen.
const mx = { frames: 0, events: [], cornerRise: 0, maxCornerRise: 0, history: [], connected: false, ended: false };
window.mx = mx;

const clamp01 = (v) => Math.max(0, Math.min(1, Number(v) || 0));

function eye(side, b) {
  const cx = side === "r" ? 140 : 260, cy = 210;
  const S = side === "r" ? "Right" : "Left";
  const blink = clamp01(b["eyeBlink" + S]);
  const squint = clamp01(b["eyeSquint" + S]);
  const wide = clamp01(b["eyeWide" + S]);
  // upper lid edge: from the top (open, raised by eyeWide) down to the lower edge (closed)
  const top = cy - 16 - 4 * wide;
  const edge = top + (32 + 4 * wide) * blink;
  $("lid-" + side).setAttribute("d",
    `M${cx - 32} ${cy} Q${cx} ${top - 22} ${cx + 32} ${cy} L${cx + 32} ${cy} Q${cx} ${2 * edge - cy} ${cx - 32} ${cy} Z`);
  const low = cy + 16 - 10 * squint;
  $("lower-lid-" + side).setAttribute("d",
    `M${cx - 32} ${cy} Q${cx} ${cy + 40} ${cx + 32} ${cy} Q${cx} ${2 * low - cy} ${cx - 32} ${cy} Z`);
  const inward = side === "r" ? 1 : -1;   // toward the nose
  const lx = clamp01(b["eyeLookIn" + S]) * inward - clamp01(b["eyeLookOut" + S]) * inward;
  const ly = clamp01(b["eyeLookDown" + S]) - clamp01(b["eyeLookUp" + S]);
  $("iris-" + side).setAttribute("cx", (cx + 14 * lx).toFixed(2));
  $("iris-" + side).setAttribute("cy", (cy + 6 * ly).toFixed(2));
}

function brow(side, b) {
  const S = side === "r" ? "Right" : "Left";
  const inner = clamp01(b.browInnerUp), down = clamp01(b["browDown" + S]), outer = clamp01(b["browOuterUp" + S]);
  const dir = side === "r" ? -1 : 1;
  const xi = 200 + dir * 22, xo = 200 + dir * 100;
  const yi = 170 - 22 * inner + 14 * down, yo = 168 - 20 * outer + 6 * down;
  const ym = Math.min(yi, yo) - 12;
  $("brow-" + side).setAttribute("d", `M${xi} ${yi.toFixed(2)} Q${(xi + xo) / 2} ${ym.toFixed(2)} ${xo} ${yo.toFixed(2)}`);
}

function mouth(b) {
  const smile = { r: clamp01(b.mouthSmileRight), l: clamp01(b.mouthSmileLeft) };
  const frown = { r: clamp01(b.mouthFrownRight), l: clamp01(b.mouthFrownLeft) };
  const stretch = { r: clamp01(b.mouthStretchRight), l: clamp01(b.mouthStretchLeft) };
  const dimple = { r: clamp01(b.mouthDimpleRight), l: clamp01(b.mouthDimpleLeft) };
  const shift = 18 * (clamp01(b.mouthLeft) - clamp01(b.mouthRight));   // toward the subject's left = viewer's right
  const pucker = clamp01(b.mouthPucker) + 0.6 * clamp01(b.mouthFunnel);
  const jaw = clamp01(b.jawOpen);
  const open = 40 * jaw + 6 * (clamp01(b.mouthLowerDownLeft) + clamp01(b.mouthLowerDownRight)) / 2;
  const up = 5 * (clamp01(b.mouthUpperUpLeft) + clamp01(b.mouthUpperUpRight)) / 2;
  const c = {};
  for (const s of ["r", "l"]) {
    const out = s === "r" ? -1 : 1;
    c[s] = {
      x: CORNER_X[s] + out * (14 * smile[s] + 16 * stretch[s] + 6 * dimple[s] - 22 * pucker) + shift,
      y: MOUTH_Y - 26 * smile[s] + 16 * frown[s] + 5 * dimple[s] * 0,
    };
  }
  const mid = (c.r.x + c.l.x) / 2;
  const upperY = MOUTH_Y - 4 - up + 4 * pucker;
  const lowerY = MOUTH_Y + 4 + open + 8 * (smile.r + smile.l) / 2 - 4 * clamp01(b.mouthRollLower);
  const d = `M${c.r.x.toFixed(2)} ${c.r.y.toFixed(2)} Q${mid.toFixed(2)} ${(2 * upperY - (c.r.y + c.l.y) / 2).toFixed(2)} ` +
    `${c.l.x.toFixed(2)} ${c.l.y.toFixed(2)} Q${mid.toFixed(2)} ${(2 * lowerY - (c.r.y + c.l.y) / 2).toFixed(2)} ` +
    `${c.r.x.toFixed(2)} ${c.r.y.toFixed(2)} Z`;
  $("mouth").setAttribute("d", d);
  $("mouth-inner").setAttribute("d", open > 2 ? d : "");
  const m = $("mouth");
  m.dataset.cornerRightY = c.r.y.toFixed(3);
  m.dataset.cornerLeftY = c.l.y.toFixed(3);
  // rise of the corners above rest, in SVG units (positive: corners up, as in a smile)
  mx.cornerRise = MOUTH_Y - (c.r.y + c.l.y) / 2;
  m.dataset.cornerRise = mx.cornerRise.toFixed(3);
  mx.maxCornerRise = Math.max(mx.maxCornerRise, mx.cornerRise);
}

function cheeks(b) {
  for (const s of ["r", "l"]) {
    const S = s === "r" ? "Right" : "Left";
    const v = Math.max(clamp01(b["cheekSquint" + S]), 0.7 * clamp01(b["mouthSmile" + S]));
    const el = $("cheek-" + s);
    el.setAttribute("cy", (300 - 10 * v).toFixed(2));
    el.style.opacity = (0.15 + 0.5 * v + 0.3 * clamp01(b.cheekPuff)).toFixed(3);
    el.setAttribute("rx", (34 + 8 * clamp01(b.cheekPuff)).toFixed(2));
  }
}

function draw(b, head) {
  eye("r", b); eye("l", b); brow("r", b); brow("l", b); mouth(b); cheeks(b);
  $("jaw").setAttribute("transform", `translate(0 ${(12 * clamp01(b.jawOpen)).toFixed(2)})`);
  const deg = (r) => (Number(r) || 0) * 180 / Math.PI;
  $("head").setAttribute("transform",
    `rotate(${deg(head.roll).toFixed(2)} 200 240) translate(${(-deg(head.yaw) * 1.5).toFixed(2)} ${(deg(head.pitch) * 1.5).toFixed(2)})`);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => { mx.connected = true; setStatus("connected", "connected"); };
  ws.onclose = () => { mx.connected = false; setStatus(mx.ended ? "stream ended" : "disconnected", "closed"); };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "frame") {
      mx.frames += 1;
      draw(m.arkit || {}, m.head_rad || {});
      showAUs(m.au || {});
      if (mx.history.length < 100000) mx.history.push([m.t_s, mx.cornerRise]);
    } else if (m.type === "event") {
      addEvent(m, mx.events);
    } else if (m.type === "status") {
      if (m.state === "ended") mx.ended = true;
      setStatus(m.text || m.state, m.state);
    } else if (m.type === "hello" && m.source) {
      setStatus(`streaming ${m.source}`, "connected");
    }
  };
}

buildBars();
draw({}, {});
connect();
