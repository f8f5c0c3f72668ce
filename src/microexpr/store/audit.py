"""The tamper-evident audit log: ``audit.jsonl``, one JSON object per line, each carrying the previous hash.

An entry's ``hash`` is SHA-256 over its canonical JSON (sorted keys, no spaces) without the ``hash`` field;
``prev_hash`` is the previous entry's hash (64 zeros for the first). Editing, removing or reordering any entry
breaks the chain at that entry. The catalogue also records the last entry's seq and hash, so cutting entries
off the end is caught too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from microexpr.errors import MicroexprError

GENESIS = "0" * 64
FIELDS = ("seq", "time", "actor", "action", "subject", "purpose", "details", "prev_hash", "hash")


class AuditError(MicroexprError):
    """The audit log cannot be read or written, or fails verification."""


def default_actor() -> str:
    """Who is acting: ``$MICROEXPR_ACTOR`` or the OS user name."""
    env = os.environ.get("MICROEXPR_ACTOR")
    if env:
        return env[:200]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _last(path: Path) -> dict | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 65536))
        lines = f.read().splitlines()
    try:
        return json.loads(lines[-1])
    except (json.JSONDecodeError, IndexError):
        raise AuditError(f"audit log {path} ends with a damaged line: run 'microexpr audit verify'") from None


def append(
    path: Path,
    action: str,
    *,
    subject: str | None = None,
    purpose: str | None = None,
    details: dict | None = None,
    actor: str | None = None,
) -> dict:
    """Append one entry (locked, fsynced) and return it."""
    path = Path(path)
    with _locked(path):
        last = _last(path)
        entry = {
            "seq": (last["seq"] + 1) if last else 1,
            "time": dt.datetime.now(dt.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "actor": actor or default_actor(),
            "action": action,
            "subject": subject,
            "purpose": purpose,
            "details": details or {},
            "prev_hash": last["hash"] if last else GENESIS,
        }
        entry["hash"] = entry_hash(entry)
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    return entry


def read(path: Path) -> list[dict]:
    """All entries, in file order (no checks: see :func:`verify`)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"_bad_line": n})
    return out


@dataclass(frozen=True)
class Verdict:
    """Result of :func:`verify`: ok, entries checked, and the first bad entry's line and reason."""

    ok: bool
    n_entries: int
    bad_line: int | None = None
    reason: str = ""


def verify(path: Path, *, head: tuple[int, str] | None = None) -> Verdict:
    """Check the hash chain; ``head`` (seq, hash) is the last entry the catalogue knows of."""
    entries = read(path)
    prev, seq = GENESIS, 0
    for line, e in enumerate(entries, 1):
        if "_bad_line" in e:
            return Verdict(False, len(entries), line, "not valid JSON")
        if set(e) != set(FIELDS):
            return Verdict(False, len(entries), line, "fields added or removed")
        if e["seq"] != seq + 1:
            return Verdict(
                False, len(entries), line, f"seq {e['seq']} follows {seq} (entry removed or moved)"
            )
        if e["prev_hash"] != prev:
            return Verdict(False, len(entries), line, "prev_hash does not match the entry before")
        if entry_hash(e) != e["hash"]:
            return Verdict(False, len(entries), line, "content does not match its hash (entry edited)")
        prev, seq = e["hash"], e["seq"]
    if head is not None:
        h_seq, h_hash = head
        if seq < h_seq:
            return Verdict(
                False,
                len(entries),
                len(entries) + 1,
                f"entries after seq {seq} removed (store knows {h_seq})",
            )
        known = next((e for e in entries if e["seq"] == h_seq), None)
        if h_seq and (known is None or known["hash"] != h_hash):
            return Verdict(
                False, len(entries), h_seq, f"entry seq {h_seq} differs from the one the store knows"
            )
    return Verdict(True, len(entries))
