"""The SQLite catalogue of one store folder: schema migrations, subjects, consent, analyses, retention, export.

Layout of a store folder: ``catalogue.sqlite`` (this module) and ``audit.jsonl`` (:mod:`.audit`). Subjects are
kept only as a keyed pseudonym (HMAC-SHA256 of the user's id under the store's index key, itself wrapped by the
master key). Every stored result is AES-256-GCM encrypted with the subject's own data key, wrapped by the
master key: deleting that key (withdrawal, retention) shreds the subject's data. SQL is parameterised only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from microexpr.errors import MicroexprError, OptionError
from microexpr.store import audit, crypto

DB_NAME = "catalogue.sqlite"
AUDIT_NAME = "audit.jsonl"
MAGIC = "microexpr-store"
SCOPES = ("capture", "storage", "emotion", "streaming", "sharing")
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 200
MAX_FORM_BYTES = 50 * 1024 * 1024

# numbered migrations, each applied in one transaction; never edit a released one, add the next number
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE keyring(name TEXT PRIMARY KEY, wrapped BLOB NOT NULL)",
            "CREATE TABLE subjects(pseudonym TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL,"
            " created_at TEXT NOT NULL, last_used_at TEXT NOT NULL)",
            "CREATE TABLE consents(id INTEGER PRIMARY KEY, pseudonym TEXT NOT NULL"
            " REFERENCES subjects(pseudonym) ON DELETE CASCADE, purpose TEXT NOT NULL, scopes TEXT NOT NULL,"
            " granted_at TEXT NOT NULL, expires_at TEXT, form_sha256 TEXT)",
        ),
    ),
    (
        2,
        (
            "CREATE TABLE recordings(id INTEGER PRIMARY KEY, pseudonym TEXT NOT NULL"
            " REFERENCES subjects(pseudonym) ON DELETE CASCADE, info BLOB NOT NULL, created_at TEXT NOT NULL)",
            "CREATE TABLE analyses(id INTEGER PRIMARY KEY, recording_id INTEGER NOT NULL"
            " REFERENCES recordings(id) ON DELETE CASCADE, pseudonym TEXT NOT NULL"
            " REFERENCES subjects(pseudonym) ON DELETE CASCADE, context TEXT, purpose TEXT,"
            " created_at TEXT NOT NULL)",
            "CREATE TABLE results(analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,"
            " kind TEXT NOT NULL, blob BLOB NOT NULL, PRIMARY KEY(analysis_id, kind))",
            "CREATE INDEX consents_subject ON consents(pseudonym)",
            "CREATE INDEX analyses_subject ON analyses(pseudonym)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StoreError(MicroexprError):
    """The store folder or catalogue is missing, foreign, damaged or cannot be written."""


class ConsentError(StoreError):
    """No active consent covers what was asked for."""

    exit_code = 3


def default_store_dir() -> Path:
    """``$MICROEXPR_HOME/store``."""
    from microexpr.track.model import microexpr_home

    return microexpr_home() / "store"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_iso(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def check_text(value: str, what: str, limit: int = MAX_TEXT_CHARS) -> str:
    """A user-given id or label: non-empty, at most ``limit`` characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise OptionError(f"{what} must not be empty")
    if len(value) > limit:
        raise OptionError(f"{what} is {len(value):,} characters long; the limit is {limit}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise OptionError(f"{what} must not contain control characters (newlines, tabs, NUL)")
    return value


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"capture,storage"`` -> ('capture', 'storage'); unknown scopes are an error naming the valid ones."""
    items = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text)]
    items = [s for s in items if s]
    if not items:
        raise OptionError(f"--scope must name at least one of {', '.join(SCOPES)}")
    bad = [s for s in items if s not in SCOPES]
    if bad:
        shown = ", ".join(repr(b[:40]) for b in bad[:3])
        raise OptionError(f"unknown consent scope {shown}; valid scopes: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in items)


def parse_date(text: str, what: str = "--expires") -> dt.datetime:
    """A date ``YYYY-MM-DD`` (end of that day, UTC) or an ISO date-time."""
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            return dt.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=dt.timezone.utc)
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise OptionError(f"{what} must be a date like 2027-01-31, but got {text[:40]!r}") from None


@dataclass(frozen=True)
class Consent:
    """One consent record as shown to users."""

    id: int
    purpose: str
    scopes: tuple[str, ...]
    granted_at: str
    expires_at: str | None
    form_sha256: str | None

    def active(self, at: dt.datetime) -> bool:
        return self.expires_at is None or _parse_iso(self.expires_at) > at


# --------------------------------------------------------------------------------------------------
# Opening: checks on a read-only handle first, so a foreign or damaged file is never modified
# --------------------------------------------------------------------------------------------------


def _check_existing(db: Path) -> int:
    """Schema version of an existing catalogue; StoreError for a foreign, truncated or newer file."""
    size = db.stat().st_size
    with open(db, "rb") as f:
        head = f.read(100)
    if size == 0 or not head.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{db} is not a microexpr store (not an SQLite database); it was left untouched")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    n_pages = int.from_bytes(head[28:32], "big")
    if page < 512 or size % page or (n_pages and size < n_pages * page):
        raise StoreError(f"{db} is truncated or damaged ({size} bytes); it was left untouched")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise StoreError(f"{db} is damaged ({ok[:80]}); it was left untouched")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"schema_version", "settings"} <= tables:
                raise StoreError(
                    f"{db} is a foreign SQLite database, not a microexpr store; it was left untouched"
                )
            magic = con.execute("SELECT value FROM settings WHERE key='magic'").fetchone()
            if not magic or magic[0] != MAGIC:
                raise StoreError(
                    f"{db} is a foreign SQLite database, not a microexpr store; it was left untouched"
                )
            version = con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{db} is damaged or not a store ({e}); it was left untouched") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{db} has schema version {version}, newer than this microexpr knows ({SCHEMA_VERSION}): upgrade"
        )
    return int(version)


class Store:
    """An open store folder. Use :func:`open_store`; close with :meth:`close` or as a context manager."""

    def __init__(self, folder: Path, con: sqlite3.Connection, master_key: bytes | None) -> None:
        self.folder = folder
        self.con = con
        self._master = master_key
        self._index_key: bytes | None = None
        if master_key is not None:
            row = con.execute("SELECT wrapped FROM keyring WHERE name='index'").fetchone()
            self._index_key = crypto.open_sealed(master_key, row[0], "index-key", what=f"the store {folder}")

    # -- plumbing ------------------------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def setting(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, con: sqlite3.Connection, key: str, value: str) -> None:
        con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))

    @property
    def audit_path(self) -> Path:
        return self.folder / AUDIT_NAME

    def log(
        self, action: str, *, subject: str | None = None, purpose: str | None = None, **details: object
    ) -> None:
        """Append to the audit log and record its head in the catalogue."""
        e = audit.append(self.audit_path, action, subject=subject, purpose=purpose, details=details)
        with self.transaction() as con:
            self._set(con, "audit_head", f"{e['seq']}:{e['hash']}")

    def audit_head(self) -> tuple[int, str] | None:
        v = self.setting("audit_head")
        if not v:
            return None
        seq, h = v.split(":", 1)
        return int(seq), h

    def _need_key(self) -> bytes:
        if self._master is None or self._index_key is None:
            raise crypto.MasterKeyError(f"no master key: give --key-file FILE or set {crypto.KEY_ENV}")
        return self._master

    def pseudonym(self, subject_id: str) -> str:
        """The stored name of a subject id (keyed hash; the id itself is never stored)."""
        self._need_key()
        check_text(subject_id, "subject id", MAX_ID_CHARS)
        return crypto.pseudonym(self._index_key, subject_id)  # type: ignore[arg-type]

    def _data_key(self, pseud: str) -> bytes:
        row = self.con.execute("SELECT wrapped_key FROM subjects WHERE pseudonym=?", (pseud,)).fetchone()
        if row is None:
            raise StoreError(f"no data stored for subject {pseud}")
        return crypto.open_sealed(
            self._need_key(), row[0], f"subject-key:{pseud}", what=f"subject {pseud}'s key"
        )

    def _touch(self, con: sqlite3.Connection, pseud: str) -> None:
        con.execute("UPDATE subjects SET last_used_at=? WHERE pseudonym=?", (_iso(now_utc()), pseud))

    # -- consent -------------------------------------------------------------------------------------

    def grant(
        self,
        subject_id: str,
        *,
        purpose: str,
        scopes: Iterable[str] | str,
        expires: dt.datetime | None = None,
        form: Path | None = None,
    ) -> Consent:
        """Record a consent (the form file is kept only as its SHA-256)."""
        key = self._need_key()
        pseud = self.pseudonym(subject_id)
        check_text(purpose, "--purpose")
        sc = parse_scopes(scopes)
        now = now_utc()
        if expires is not None and expires <= now:
            raise OptionError(f"--expires {_iso(expires)} is in the past")
        form_hash = None
        if form is not None:
            fp = Path(form)
            if not fp.is_file():
                raise OptionError(f"consent form {fp} not found")
            if fp.stat().st_size > MAX_FORM_BYTES:
                raise OptionError(f"consent form {fp} is larger than {MAX_FORM_BYTES // 2**20} MiB")
            form_hash = crypto.sha256_hex(fp.read_bytes())
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM subjects WHERE pseudonym=?", (pseud,)).fetchone() is None:
                wrapped = crypto.seal(key, crypto.new_key(), f"subject-key:{pseud}")
                con.execute(
                    "INSERT INTO subjects(pseudonym, wrapped_key, created_at, last_used_at) VALUES (?,?,?,?)",
                    (pseud, wrapped, _iso(now), _iso(now)),
                )
            cur = con.execute(
                "INSERT INTO consents(pseudonym, purpose, scopes, granted_at, expires_at, form_sha256)"
                " VALUES (?,?,?,?,?,?)",
                (pseud, purpose, ",".join(sc), _iso(now), _iso(expires) if expires else None, form_hash),
            )
            self._touch(con, pseud)
            cid = int(cur.lastrowid)
        self.log(
            "consent.grant",
            subject=pseud,
            purpose=purpose,
            scopes=list(sc),
            expires_at=expires and _iso(expires),
            form_sha256=form_hash,
        )
        return Consent(cid, purpose, sc, _iso(now), _iso(expires) if expires else None, form_hash)

    def consents(self, subject_id: str) -> list[Consent]:
        pseud = self.pseudonym(subject_id)
        rows = self.con.execute(
            "SELECT id, purpose, scopes, granted_at, expires_at, form_sha256 FROM consents WHERE pseudonym=?"
            " ORDER BY id",
            (pseud,),
        ).fetchall()
        return [Consent(r[0], r[1], tuple(r[2].split(",")), r[3], r[4], r[5]) for r in rows]

    def active_scopes(self, subject_id: str) -> set[str]:
        now = now_utc()
        return {s for c in self.consents(subject_id) if c.active(now) for s in c.scopes}

    def require_consent(self, subject_id: str, scopes: Iterable[str], *, use: str) -> str:
        """The subject's pseudonym if active consent covers every scope; ConsentError naming what is missing."""
        pseud = self.pseudonym(subject_id)
        missing = [s for s in parse_scopes(scopes) if s not in self.active_scopes(subject_id)]
        if missing:
            self.log("refused", use=use, missing_scopes=missing)  # no pseudonym: nothing kept about them
            raise ConsentError(
                f"refused: subject {pseud} has no active consent covering {', '.join(missing)} (needed to {use});"
                f" record it with 'microexpr consent grant SUBJECT --scope {','.join(missing)} --purpose ...'"
            )
        return pseud

    def withdraw(self, subject_id: str, *, purpose: str | None = None) -> int:
        """Withdraw consent: delete the subject's key (shredding its data), rows and consents. Returns analyses deleted."""
        pseud = self.pseudonym(subject_id)
        n = self._delete_subject(pseud)
        if n is None:
            raise StoreError(f"no consent or data recorded for subject {pseud}")
        self.log("consent.withdraw", subject=pseud, purpose=purpose, analyses_deleted=n)
        return n

    def _delete_subject(self, pseud: str) -> int | None:
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM subjects WHERE pseudonym=?", (pseud,)).fetchone() is None:
                return None
            n = con.execute("SELECT COUNT(*) FROM analyses WHERE pseudonym=?", (pseud,)).fetchone()[0]
            con.execute("DELETE FROM subjects WHERE pseudonym=?", (pseud,))  # cascades to every table
        self.con.execute("VACUUM")  # secure_delete zeroed the pages; VACUUM drops them from the file
        return int(n)

    # -- analyses ------------------------------------------------------------------------------------

    def save_analysis(
        self, subject_id: str, result: object, *, context: str | None, purpose: str | None
    ) -> int:
        """Store an analysis (frames table, events, meta, baselines), encrypted; needs capture+storage consent."""
        pseud = self.require_consent(subject_id, ("capture", "storage"), use="store this analysis")
        dkey = self._data_key(pseud)
        parts = serialise_analysis(result)
        info = json.dumps(parts.pop("_info")).encode()
        now = _iso(now_utc())
        with self.transaction() as con:
            rec = con.execute(
                "INSERT INTO recordings(pseudonym, info, created_at) VALUES (?, ?, ?)",
                (pseud, b"pending", now),
            ).lastrowid
            con.execute(
                "UPDATE recordings SET info=? WHERE id=?",
                (crypto.seal(dkey, info, f"{pseud}:rec:{rec}"), rec),
            )
            aid = con.execute(
                "INSERT INTO analyses(recording_id, pseudonym, context, purpose, created_at) VALUES (?,?,?,?,?)",
                (rec, pseud, context, purpose, now),
            ).lastrowid
            for kind, data in parts.items():
                con.execute(
                    "INSERT INTO results(analysis_id, kind, blob) VALUES (?, ?, ?)",
                    (aid, kind, crypto.seal(dkey, data, f"{pseud}:{aid}:{kind}")),
                )
            self._touch(con, pseud)
        self.log(
            "analysis.store",
            subject=pseud,
            purpose=purpose,
            context=context,
            analysis=aid,
            kinds=sorted(parts),
        )
        return int(aid)

    def analyses(self, subject_id: str) -> list[dict]:
        pseud = self.pseudonym(subject_id)
        rows = self.con.execute(
            "SELECT id, context, purpose, created_at FROM analyses WHERE pseudonym=? ORDER BY id", (pseud,)
        ).fetchall()
        return [dict(zip(("id", "context", "purpose", "created_at"), r)) for r in rows]

    def load_result(self, subject_id: str, analysis_id: int, kind: str) -> bytes:
        """Decrypted bytes of one stored result (``frames`` parquet, ``events``/``meta``/``baselines`` JSON)."""
        pseud = self.pseudonym(subject_id)
        row = self.con.execute(
            "SELECT r.blob FROM results r JOIN analyses a ON a.id=r.analysis_id"
            " WHERE a.pseudonym=? AND r.analysis_id=? AND r.kind=?",
            (pseud, int(analysis_id), kind),
        ).fetchone()
        if row is None:
            raise StoreError(f"subject {pseud} has no stored {kind!r} for analysis {analysis_id}")
        return crypto.open_sealed(
            self._data_key(pseud),
            row[0],
            f"{pseud}:{analysis_id}:{kind}",
            what=f"analysis {analysis_id} {kind}",
        )

    def export(self, subject_id: str, out_dir: Path, *, purpose: str | None = None) -> Path:
        """Write ``out_dir/<pseudonym>/analysis-<n>/`` with tables and meta under the pseudonym; no images."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        from microexpr.outputs import atomic_write_bytes, commit_out_dir, prepare_out_dir

        pseud = self.pseudonym(subject_id)
        items = self.analyses(subject_id)
        if not items and not self.consents(subject_id):
            raise StoreError(f"nothing stored for subject {pseud}")
        staging, final = prepare_out_dir(Path(out_dir), pseud)
        try:
            for a in items:
                d = staging / f"analysis-{a['id']}"
                d.mkdir()
                frames = self.load_result(subject_id, a["id"], "frames")
                atomic_write_bytes(d / "frames.parquet", frames)
                pacsv.write_csv(pq.read_table(io.BytesIO(frames)), str(d / "frames.csv"))
                atomic_write_bytes(d / "events.json", self.load_result(subject_id, a["id"], "events"))
                atomic_write_bytes(d / "baselines.json", self.load_result(subject_id, a["id"], "baselines"))
                meta = json.loads(self.load_result(subject_id, a["id"], "meta"))
                meta["subject"] = pseud
                atomic_write_bytes(d / "meta.json", json.dumps(meta, indent=2).encode())
            consents = [c.__dict__ for c in self.consents(subject_id)]
            atomic_write_bytes(
                staging / "consents.json",
                json.dumps({"subject": pseud, "consents": consents}, indent=2).encode(),
            )
        except BaseException:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            raise
        with self.transaction() as con:
            self._touch(con, pseud)
        folder = commit_out_dir(staging, final)
        self.log("export", subject=pseud, purpose=purpose, analyses=[a["id"] for a in items], images=0)
        return folder

    # -- retention and keys --------------------------------------------------------------------------

    def retain_days(self) -> int | None:
        v = self.setting("retain_days")
        return int(v) if v else None

    def set_retention(self, days: int | None) -> None:
        if days is not None and not (1 <= days <= 36500):
            raise OptionError(f"--retain-days must be between 1 and 36500, but got {days}")
        with self.transaction() as con:
            if days is None:
                con.execute("DELETE FROM settings WHERE key='retain_days'")
            else:
                self._set(con, "retain_days", str(days))
        self.log("retention.set", retain_days=days)

    def purge(self, *, at: dt.datetime | None = None) -> list[str]:
        """Delete every subject unused for longer than the retention period; returns their pseudonyms."""
        days = self.retain_days()
        if days is None:
            return []
        cutoff = _iso((at or now_utc()) - dt.timedelta(days=days))
        rows = self.con.execute("SELECT pseudonym FROM subjects WHERE last_used_at < ?", (cutoff,)).fetchall()
        gone = []
        for (pseud,) in rows:
            n = self._delete_subject(pseud)
            self.log("retention.purge", subject=pseud, retain_days=days, analyses_deleted=n)
            gone.append(pseud)
        return gone

    def rotate_key(self, new_key: bytes) -> int:
        """Re-wrap the index key and every subject's data key under ``new_key``; returns keys re-wrapped."""
        old = self._need_key()
        with self.transaction() as con:
            rows = con.execute("SELECT pseudonym, wrapped_key FROM subjects").fetchall()
            for pseud, wrapped in rows:
                dk = crypto.open_sealed(old, wrapped, f"subject-key:{pseud}", what=f"subject {pseud}'s key")
                con.execute(
                    "UPDATE subjects SET wrapped_key=? WHERE pseudonym=?",
                    (crypto.seal(new_key, dk, f"subject-key:{pseud}"), pseud),
                )
            con.execute(
                "UPDATE keyring SET wrapped=? WHERE name='index'",
                (crypto.seal(new_key, self._index_key, "index-key"),),  # type: ignore[arg-type]
            )
        self._master = new_key
        self.log("key.rotate", subject_keys=len(rows))
        return len(rows) + 1

    def summary(self) -> dict:
        q = self.con.execute
        return {
            "store": str(self.folder),
            "schema_version": q("SELECT MAX(version) FROM schema_version").fetchone()[0],
            "subjects": q("SELECT COUNT(*) FROM subjects").fetchone()[0],
            "analyses": q("SELECT COUNT(*) FROM analyses").fetchone()[0],
            "retain_days": self.retain_days(),
            "audit_entries": (self.audit_head() or (0, ""))[0],
        }


def _migrate(con: sqlite3.Connection, current: int) -> None:
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if version == 1:
                con.execute(
                    "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
            for sql in statements:
                con.execute(sql)
            con.execute(
                "INSERT INTO schema_version(version, applied_at) VALUES (?, ?)", (version, _iso(now_utc()))
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, isolation_level=None, timeout=30.0)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros, not left in free pages
    con.execute("PRAGMA synchronous=FULL")
    return con


def open_store(
    folder: Path | None = None,
    *,
    key: bytes | None = None,
    create: bool = False,
    enforce_retention: bool = True,
) -> Store:
    """Open (or, with ``create``, make) the store in ``folder`` (default ``$MICROEXPR_HOME/store``).

    A foreign, truncated or newer catalogue raises StoreError and is left untouched. Pending migrations are
    applied, each in one transaction. ``key`` (the master key) is checked against the store (AES-GCM tag) and
    is needed for anything that touches subjects. Retention is enforced on every open.
    """
    folder = Path(folder) if folder is not None else default_store_dir()
    db = folder / DB_NAME
    if db.exists():
        version = _check_existing(db)
        new = False
    else:
        if not create:
            raise StoreError(f"no store at {folder} (make one with 'microexpr store init --store {folder}')")
        if key is None:
            raise crypto.MasterKeyError(
                f"no master key: give --key-file FILE or set {crypto.KEY_ENV} (make one with 'microexpr store keygen')"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        except OSError as e:
            raise StoreError(f"cannot create store folder {folder}: {e.strerror or e}") from None
        version, new = 0, True
    try:
        con = _connect(db)
        _migrate(con, version)
        if new:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO settings(key, value) VALUES ('magic', ?)", (MAGIC,))
            con.execute(
                "INSERT INTO keyring(name, wrapped) VALUES ('index', ?)",
                (crypto.seal(key, crypto.new_key(), "index-key"),),  # type: ignore[arg-type]
            )
            con.execute("COMMIT")
            os.chmod(db, 0o600)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open store {folder}: {e}") from None
    store = Store(folder, con, key)
    if new:
        store.log("store.create", schema_version=SCHEMA_VERSION)
    if enforce_retention:
        store.purge()
    return store


def serialise_analysis(result: object) -> dict[str, bytes]:
    """The parts of an analysis that are stored: frames (Parquet), events, meta, baselines (JSON)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from microexpr.outputs import frames_schema

    r = result
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, frames_schema(with_file=r.images_mode), compression="zstd") as w:  # type: ignore[attr-defined]
        for b in r.batches():  # type: ignore[attr-defined]
            w.write_batch(b)
    meta = r.meta()  # type: ignore[attr-defined]
    video = meta.get("video", {})
    info = {k: video.get(k) for k in ("fps", "n_frames", "width", "height", "codec") if k in video}
    # file names often carry a person's name: kept out of the stored meta
    if "path" in video:
        video["path"] = "redacted"
    for k in ("profile", "neutral_image", "recognizer", "model_path"):
        if meta.get("parameters", {}).get(k):
            meta["parameters"][k] = "redacted"
    return {
        "_info": info,  # type: ignore[dict-item]
        "frames": sink.getvalue().to_pybytes(),
        "events": r.events.to_json(orient="records").encode(),  # type: ignore[attr-defined]
        "meta": json.dumps(meta, default=str).encode(),
        "baselines": json.dumps({str(f): b.to_json() for f, b in r.baselines.items()}).encode(),  # type: ignore[attr-defined]
    }
