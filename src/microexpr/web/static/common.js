// Shared by the preview page (app.js) and the live dashboard (live.js): element lookup, number display,
// the AU bars, the connection status line and the event feed. Each page keeps its own `mx` state.
"use strict";

const AU_CODES = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
  "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"];

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

function showAUs(au) {
  for (const code of AU_CODES) {
    const v = Math.max(0, Math.min(5, Number(au[code]) || 0));
    $("bar-" + code).style.width = (v / 5 * 100).toFixed(1) + "%";
    $("val-" + code).textContent = v.toFixed(2);
  }
}

function setStatus(text, state) {
  const s = $("status");
  s.textContent = text;
  s.dataset.state = state;
}

// One spotted event at the top of the feed (and in the page's `events` list).
function addEvent(ev, events) {
  events.push(ev);
  const li = document.createElement("li");
  li.className = ev.kind;
  const aus = (ev.aus || []).join("+") || "?";
  const emo = ev.emotion ? ` · ${ev.emotion}` : "";
  // a truncated event: its offset fell where the face was lost, so it lasted at least this long
  const cut = ev.truncated ? "≥ " : "";
  li.textContent = `${ev.kind} ${aus} at ${num(ev.onset_s, 2)}–${num(ev.offset_s, 2)} s ` +
    `(${cut}${Math.round(ev.duration_ms)} ms${ev.truncated ? ", face lost" : ""})${emo} · face ${ev.face_id}`;
  $("events").prepend(li);
}
