// microexpr live dashboard: video (JPEG over /ws), AU bars, head pose, event feed, latency and drop figures.
"use strict";
// needs common.js (AU_CODES, $, num, buildBars, showAUs, setStatus, addEvent)

// Page state, readable by tests and tools.
const mx = { video: 0, faces: 0, events: [], stats: null, history: [], connected: false, ended: false };
window.mx = mx;

function showFace(m) {
  mx.faces += 1;
  const f = (m.faces || [])[0];
  const au = f ? f.au || {} : {};
  showAUs(au);
  const h = f ? f.head_deg || {} : {};
  $("pose-yaw").textContent = num(h.yaw, 1);
  $("pose-pitch").textContent = num(h.pitch, 1);
  $("pose-roll").textContent = num(h.roll, 1);
  $("au-face").textContent = f ? `face ${f.face_id}${f.calibrated ? "" : " (calibrating)"}` : "no face";
  if (mx.history.length < 20000) mx.history.push([m.t_s, au]);
}

function showStats(s) {
  mx.stats = s;
  const lat = s.latency_ms || {};
  $("stat-p50").textContent = num(lat.p50, 1);
  $("stat-p95").textContent = num(lat.p95, 1);
  $("stat-fps").textContent = num(s.fps, 1);
  $("stat-frames").textContent = num(s.frames, 0);
  $("stat-dropped").textContent = num(s.dropped, 0);
  $("stat-drop-ratio").textContent = num(100 * s.drop_ratio, 2);
  $("stat-sink-dropped").textContent = s.sinks ? num(s.sinks.dropped, 0) : "–";
  $("stat-events").textContent = num(s.events, 0);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => { mx.connected = true; setStatus("connected", "connected"); };
  ws.onclose = () => { mx.connected = false; setStatus(mx.ended ? "source ended" : "disconnected", "closed"); };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "video") {
      mx.video += 1;
      $("video").src = "data:image/jpeg;base64," + m.jpeg;
    } else if (m.type === "face") {
      showFace(m);
    } else if (m.type === "stats") {
      showStats(m);
    } else if (m.type === "event") {
      addEvent(m, mx.events);
    } else if (m.type === "status") {
      if (m.state === "ended") mx.ended = true;
      setStatus(m.text || m.state, m.state);
    } else if (m.type === "hello") {
      $("source").textContent = m.source || "";
      if (!m.video) { $("video").hidden = true; $("no-video").hidden = false; }
    }
  };
}

buildBars();
connect();
