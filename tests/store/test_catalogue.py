"""The encrypted store: consent, storing, plaintext scans, keys, migrations, damaged files, crashes, retention."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from microexpr.errors import OptionError
from microexpr.store import catalogue
from microexpr.store.catalogue import ConsentError, StoreError, open_store
from microexpr.store.crypto import MasterKeyError, encode_key, load_master_key, new_key

from .conftest import SUBJECT, store_bytes


def _grant(s, subject=SUBJECT, scopes="capture,storage"):
    return s.grant(subject, purpose="research", scopes=scopes)


def test_stored_analysis_reads_back_and_no_plaintext_on_disk(store, smile_analysis):
    _grant(store)
    aid = store.save_analysis(SUBJECT, smile_analysis, context="research", purpose="study 1")
    frames = pd.read_parquet(__import__("io").BytesIO(store.load_result(SUBJECT, aid, "frames")))
    assert np.allclose(frames["AU12_r"].to_numpy(), smile_analysis.frames["AU12_r"].to_numpy())
    assert json.loads(store.load_result(SUBJECT, aid, "meta"))["video"]["path"] == "redacted"
    store.close()

    raw = store_bytes(store.folder)
    au12 = smile_analysis.frames["AU12_r"].to_numpy(np.float32)
    apex = int(au12.argmax())
    for needle in (
        SUBJECT.encode(),
        b"alice",
        b"AU12_r",  # a column name: appears in any plaintext Parquet footer or CSV
        au12[apex - 2 : apex + 2].tobytes(),  # the subject's AU values as stored in Parquet
        json.dumps(round(float(au12[apex]), 4)).encode(),
        b"smile.mp4",
        b'"au_codes"',
    ):
        assert needle not in raw, needle
    assert not list(store.folder.glob("*-wal")) and not list(store.folder.glob("*-journal"))


def test_withdrawal_shreds_keys_and_rows(store, smile_analysis):
    _grant(store)
    _grant(store, "bob")
    store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    store.save_analysis("bob", smile_analysis, context=None, purpose=None)
    pseud = store.pseudonym(SUBJECT)
    blob = store.con.execute(
        "SELECT r.blob FROM results r JOIN analyses a ON a.id=r.analysis_id WHERE a.pseudonym=? AND kind='meta'",
        (pseud,),
    ).fetchone()[0]
    wrapped = store.con.execute("SELECT wrapped_key FROM subjects WHERE pseudonym=?", (pseud,)).fetchone()[0]
    assert blob[20:60] in (store.folder / "catalogue.sqlite").read_bytes()

    assert store.withdraw(SUBJECT) == 1
    db = (store.folder / "catalogue.sqlite").read_bytes()
    assert pseud.encode() not in db and blob[20:60] not in db and wrapped[12:44] not in db
    assert store.consents(SUBJECT) == [] and store.analyses(SUBJECT) == []
    assert len(store.analyses("bob")) == 1  # others untouched
    assert store.load_result("bob", store.analyses("bob")[0]["id"], "events")
    with pytest.raises(ConsentError, match="no active consent"):
        store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)


def test_consent_scopes_and_expiry(store, smile_analysis):
    store.grant(SUBJECT, purpose="research", scopes="capture")
    with pytest.raises(ConsentError, match="storage"):
        store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    assert store.analyses(SUBJECT) == []
    soon = catalogue.now_utc() + dt.timedelta(days=1)
    store.grant(SUBJECT, purpose="research", scopes=["storage"], expires=soon)
    assert store.active_scopes(SUBJECT) == {"capture", "storage"}
    store.con.execute("UPDATE consents SET expires_at='2020-01-01T00:00:00Z' WHERE scopes='storage'")
    assert store.active_scopes(SUBJECT) == {"capture"}
    with pytest.raises(OptionError, match="in the past"):
        store.grant(
            SUBJECT, purpose="x", scopes="capture", expires=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        )
    with pytest.raises(OptionError, match="unknown consent scope"):
        store.grant(SUBJECT, purpose="x", scopes="capture,telepathy")


@pytest.mark.parametrize(
    "value, message",
    [
        ("x" * 10_000_000, "10,000,000 characters"),
        ("a\nb", "control characters"),
        ("", "must not be empty"),
    ],
)
def test_hostile_ids_and_purposes_give_clear_errors(store, value, message):
    with pytest.raises(OptionError, match=message):
        store.grant(value, purpose="research", scopes="capture")
    with pytest.raises(OptionError, match=message):
        store.grant("s01", purpose=value, scopes="capture")
    assert store.con.execute("SELECT COUNT(*) FROM consents").fetchone()[0] == 0


def test_sql_in_ids_and_purposes_is_just_text(store, tmp_path):
    evil = "'); DROP TABLE subjects; --"
    store.grant(evil, purpose=evil, scopes="capture,storage")
    store.grant('../../etc/passwd"', purpose="research", scopes="capture")
    assert [c.purpose for c in store.consents(evil)] == [evil]
    assert store.con.execute("SELECT COUNT(*) FROM subjects").fetchone()[0] == 2
    folder = store.export('../../etc/passwd"', tmp_path / "exp")
    assert folder.parent == tmp_path / "exp" and folder.name.startswith("s_")


def test_wrong_missing_and_malformed_keys(tmp_path, store, monkeypatch):
    _grant(store)
    store.close()
    with pytest.raises(MasterKeyError, match="AES-GCM tag check failed"):
        open_store(store.folder, key=new_key())
    monkeypatch.delenv("MICROEXPR_KEY", raising=False)
    with pytest.raises(MasterKeyError, match="no master key"):
        load_master_key(None)
    monkeypatch.setenv("MICROEXPR_KEY", "not base64!")
    with pytest.raises(MasterKeyError, match="MICROEXPR_KEY is not base64"):
        load_master_key(None)
    short = tmp_path / "short.key"
    short.write_text(encode_key(b"x" * 16))
    with pytest.raises(MasterKeyError, match="must decode to 32 bytes"):
        load_master_key(short)
    with pytest.raises(MasterKeyError, match="not found"):
        load_master_key(tmp_path / "nope.key")


def test_altered_ciphertext_fails_loudly(store, smile_analysis):
    _grant(store)
    aid = store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    blob = bytearray(store.con.execute("SELECT blob FROM results WHERE kind='events'").fetchone()[0])
    blob[30] ^= 1
    store.con.execute("UPDATE results SET blob=? WHERE kind='events'", (bytes(blob),))
    with pytest.raises(MasterKeyError, match="altered"):
        store.load_result(SUBJECT, aid, "events")
    # a blob moved to another row does not decrypt there either
    meta = store.con.execute("SELECT blob FROM results WHERE kind='meta'").fetchone()[0]
    store.con.execute("UPDATE results SET blob=? WHERE kind='baselines'", (meta,))
    with pytest.raises(MasterKeyError):
        store.load_result(SUBJECT, aid, "baselines")


def test_key_rotation_rewraps(store, key, smile_analysis):
    _grant(store)
    aid = store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    before = store.load_result(SUBJECT, aid, "frames")
    new = new_key()
    assert store.rotate_key(new) == 2
    store.close()
    with pytest.raises(MasterKeyError):
        open_store(store.folder, key=key)
    with open_store(store.folder, key=new) as s:
        assert s.load_result(SUBJECT, aid, "frames") == before  # same pseudonym, same data
        assert s.pseudonym(SUBJECT) == store.pseudonym(SUBJECT)


def test_migrations_upgrade_an_old_store_in_place(tmp_path, key, monkeypatch):
    monkeypatch.setattr(catalogue, "MIGRATIONS", catalogue.MIGRATIONS[:1])
    with open_store(tmp_path / "s", key=key, create=True) as s:
        _grant(s)
        assert s.con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
    monkeypatch.undo()
    with open_store(tmp_path / "s", key=key) as s:
        assert [r[0] for r in s.con.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2]
        assert s.active_scopes(SUBJECT) == {"capture", "storage"}
        assert s.analyses(SUBJECT) == []


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_foreign_truncated_and_newer_files_are_refused_untouched(tmp_path, key, store):
    _grant(store)
    store.close()
    db = store.folder / "catalogue.sqlite"

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    con = sqlite3.connect(foreign / "catalogue.sqlite")
    con.execute("CREATE TABLE photos(name TEXT)")
    con.commit()
    con.close()
    text = tmp_path / "text"
    text.mkdir()
    (text / "catalogue.sqlite").write_text("hello, I am a spreadsheet\n" * 100)
    trunc = tmp_path / "trunc"
    trunc.mkdir()
    (trunc / "catalogue.sqlite").write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "catalogue.sqlite").write_bytes(db.read_bytes())
    con = sqlite3.connect(newer / "catalogue.sqlite")
    con.execute("INSERT INTO schema_version VALUES (99, 'x')")
    con.commit()
    con.close()

    for folder, message in [
        (foreign, "foreign SQLite database"),
        (text, "not an SQLite database"),
        (trunc, "truncated or damaged"),
        (newer, "newer than this microexpr"),
    ]:
        before = _sha(folder / "catalogue.sqlite")
        with pytest.raises(StoreError, match=message):
            open_store(folder, key=key)
        assert _sha(folder / "catalogue.sqlite") == before
        assert sorted(p.name for p in folder.iterdir()) == ["catalogue.sqlite"]
    with pytest.raises(StoreError, match="no store at"):
        open_store(tmp_path / "none", key=key)


def test_error_inside_a_transaction_rolls_back(store, smile_analysis):
    _grant(store)
    store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    with pytest.raises(RuntimeError):
        with store.transaction() as con:
            con.execute("DELETE FROM results")
            con.execute("DELETE FROM consents")
            raise RuntimeError("crash while writing")
    assert store.con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 4
    assert store.active_scopes(SUBJECT) == {"capture", "storage"}


def test_killed_mid_transaction_keeps_earlier_data(store, key, smile_analysis):
    _grant(store)
    aid = store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    events = store.load_result(SUBJECT, aid, "events")
    store.close()
    child = textwrap.dedent(
        f"""
        import sys, time
        from microexpr.store.catalogue import open_store
        s = open_store({str(store.folder)!r}, key=bytes.fromhex({key.hex()!r}))
        with s.transaction() as con:
            con.execute("DELETE FROM results")
            con.execute("UPDATE subjects SET wrapped_key=x'00'")
            con.execute("INSERT INTO consents(pseudonym, purpose, scopes, granted_at) SELECT pseudonym, 'p', 'capture', 'x' FROM subjects")
            print("inside", flush=True)
            time.sleep(60)
        """
    )
    with subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True) as p:
        try:
            assert p.stdout.readline().strip() == "inside"
        finally:
            p.kill()
    assert list(store.folder.glob("*-journal"))  # the crash left a hot journal behind
    with open_store(store.folder, key=key) as s:
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.load_result(SUBJECT, aid, "events") == events
        assert len(s.consents(SUBJECT)) == 1


def test_retention_purges_on_open_and_logs(store, key, smile_analysis):
    from microexpr.store import audit

    _grant(store)
    _grant(store, "recent")
    store.save_analysis(SUBJECT, smile_analysis, context=None, purpose=None)
    store.set_retention(30)
    old = (catalogue.now_utc() - dt.timedelta(days=31)).isoformat()
    store.con.execute("UPDATE subjects SET last_used_at=? WHERE pseudonym=?", (old, store.pseudonym(SUBJECT)))
    pseud = store.pseudonym(SUBJECT)
    store.close()
    with open_store(store.folder, key=key) as s:
        assert s.consents(SUBJECT) == [] and s.analyses(SUBJECT) == []
        assert s.active_scopes("recent") == {"capture", "storage"}
        assert pseud.encode() not in (s.folder / "catalogue.sqlite").read_bytes()
        entries = audit.read(s.audit_path)
        assert any(e["action"] == "retention.purge" and e["subject"] == pseud for e in entries)
        assert audit.verify(s.audit_path, head=s.audit_head()).ok
    with pytest.raises(OptionError, match="between 1 and 36500"):
        with open_store(store.folder, key=key) as s:
            s.set_retention(0)


def test_export_is_pseudonymous_tables_without_images(store, smile_analysis, tmp_path):
    _grant(store)
    store.save_analysis(SUBJECT, smile_analysis, context="research", purpose="study")
    folder = store.export(SUBJECT, tmp_path / "exp", purpose="subject access request")
    pseud = store.pseudonym(SUBJECT)
    assert folder == tmp_path / "exp" / pseud
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [
        "analysis-1/baselines.json",
        "analysis-1/events.json",
        "analysis-1/frames.csv",
        "analysis-1/frames.parquet",
        "analysis-1/meta.json",
        "consents.json",
    ]
    assert not [p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".mp4", ".html")]
    everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert SUBJECT.encode() not in everything and b"smile.mp4" not in everything
    assert json.loads((folder / "analysis-1" / "meta.json").read_text())["subject"] == pseud
    f = pd.read_csv(folder / "analysis-1" / "frames.csv")
    assert len(f) == 90 and f["AU12_r"].max() > 1.5
