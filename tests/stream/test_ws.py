"""WebSocket JSON: a real `websockets` client against uvicorn serving our FastAPI app on a free loopback port."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from microexpr.errors import OptionError
from microexpr.stream import AvatarFrame
from microexpr.stream.ws import WebSocketSink
from microexpr.types import Event


def _recv(ws) -> dict:
    return json.loads(ws.recv(timeout=5))


def test_frames_and_events_reach_a_websocket_client_as_json():
    ev = Event(0, "micro", 10, 14, 20, 1.0, 1.133, 1.3, ("AU12", "AU14"), "contempt", 0.8)
    with WebSocketSink("127.0.0.1", 0, hello={"source": "clip.mp4"}, page=False) as sink:
        assert sink.port > 0
        sink.event(ev)  # before anyone connects: kept and replayed to late joiners
        with connect(f"ws://127.0.0.1:{sink.port}/ws") as ws:
            hello = _recv(ws)
            assert hello == {"type": "hello", "source": "clip.mp4"}
            assert _recv(ws)["aus"] == ["AU12", "AU14"]
            sink.send(
                AvatarFrame(
                    5,
                    0.5,
                    0,
                    {"Joy": 0.25},
                    {"mouthSmileLeft": 0.5},
                    {"AU12": 1.5},
                    (0.1, 0.2, 0.3),
                    (0.0, 0.1),
                )
            )
            sink.event(ev)
            f = _recv(ws)
            assert f["type"] == "frame" and f["index"] == 5 and f["t_s"] == 0.5
            assert f["channels"] == {"Joy": 0.25} and f["arkit"] == {"mouthSmileLeft": 0.5}
            assert f["au"] == {"AU12": 1.5} and f["head_rad"] == {"yaw": 0.1, "pitch": 0.2, "roll": 0.3}
            e = _recv(ws)
            assert e["type"] == "event" and e["kind"] == "micro" and e["emotion"] == "contempt"
            assert e["duration_ms"] == pytest.approx(300.0) and e["onset_frame"] == 10


def test_non_finite_values_are_sent_as_null_not_invalid_json():
    with WebSocketSink("127.0.0.1", 0, page=False) as sink:
        with connect(f"ws://127.0.0.1:{sink.port}/ws") as ws:
            _recv(ws)
            sink.send(AvatarFrame(0, 0.0, 0, {"x": float("nan")}, {}, {"AU12": float("inf")}))
            f = _recv(ws)
            assert f["channels"] == {"x": None} and f["au"] == {"AU12": None}


def test_a_port_in_use_is_a_clear_error():
    with WebSocketSink("127.0.0.1", 0, page=False) as sink:
        with pytest.raises(OptionError, match=f"127.0.0.1:{sink.port}"):
            WebSocketSink("127.0.0.1", sink.port, page=False)


def test_the_page_server_serves_only_its_own_files():
    import httpx

    with WebSocketSink("127.0.0.1", 0) as sink:
        base = f"http://127.0.0.1:{sink.port}"
        r = httpx.get(base + "/")
        assert r.status_code == 200 and "<svg" in r.text and "http" not in r.text.replace(base, "")
        assert httpx.get(base + "/static/app.js").status_code == 200
        for bad in ("/static/..%2F__init__.py", "/static/nope.js", "/static/%2e%2e%2fws.py"):
            assert httpx.get(base + bad).status_code == 404
