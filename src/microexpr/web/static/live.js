// microexpr live dashboard: video (JPEG over /ws), AU bars, head pose, event feed, latency and drop figures.
"use strict";

const AU_CODES = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
  "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"];

// Page state, readable by tests and tools.
const mx = { video: 0, faces: 0, events: [], stats: null, history: [], connected: false, ended: false };
window.mx = mx;

const $ = (id) => document.getElementById(id);
const num = (v, d) => (v === null || v === undefined || !Number.isFinite(Number(v))) ? "–" : Number(v).toFixed(d);

function buildBars() {
  const box = $("aus");
  for (const code of AU_CODES) {
    const row = document.createElement("div");
    row.className = "au";
    row.innerHTML = `<span>${code}</span><div class="bar"><div id="bar-${code}"></div></div>` +
      `<span id="val-${code}">0.00</span>`;
    box.appendChild(row);
  }
}

function showFace(m) {
  mx.faces += 1;
  const f = (m.faces || [])[0];
  const au = f ? f.au || {} : {};
  for (const code of AU_CODES) {
    const v = Math.max(0, Math.min(5, Number(au[code]) || 0));
    $("bar-" + code).style.width = (v / 5 * 100).toFixed(1) + "%";
    $("val-" + code).textContent = v.toFixed(2);
  }
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

function addEvent(ev) {
  mx.events.push(ev);
  const li = document.createElement("li");
  li.className = ev.kind;
  const aus = (ev.aus || []).join("+") || "?";
  const emo = ev.emotion ? ` · ${ev.emotion}` : "";
  li.textContent = `${ev.kind} ${aus} at ${num(ev.onset_s, 2)}–${num(ev.offset_s, 2)} s ` +
    `(${Math.round(ev.duration_ms)} ms)${emo} · face ${ev.face_id}`;
  $("events").prepend(li);
}

function setStatus(text, state) {
  const s = $("status");
  s.textContent = text;
  s.dataset.state = state;
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
      addEvent(m);
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
