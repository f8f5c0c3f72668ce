"""The audit log: hash chain, tamper detection (edit, removal, reorder, cut-off end), export; via the CLI."""

from __future__ import annotations

import json

import pytest

from microexpr.store import audit
from microexpr.store.catalogue import open_store
from microexpr.store.crypto import encode_key

from .conftest import SUBJECT, assert_one_line_error, run_cli


@pytest.fixture
def logged_store(store):
    """A store with five audit entries: create, two grants, a withdrawal, a retention setting."""
    store.grant(SUBJECT, purpose="research", scopes="capture,storage")
    store.grant("bob", purpose="teaching", scopes="capture")
    store.withdraw("bob", purpose="subject asked")
    store.set_retention(365)
    store.close()
    return store.folder


def test_entries_carry_the_fields_and_chain(logged_store):
    lines = (logged_store / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(x) for x in lines]
    assert [e["action"] for e in entries] == [
        "store.create",
        "consent.grant",
        "consent.grant",
        "consent.withdraw",
        "retention.set",
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == "0" * 64
    for a, b in zip(entries, entries[1:]):
        assert b["prev_hash"] == a["hash"]
    e = entries[3]
    assert set(e) == set(audit.FIELDS)
    assert e["subject"].startswith("s_") and e["purpose"] == "subject asked" and e["time"].endswith("Z")
    assert e["actor"] and "bob" not in json.dumps(entries)  # pseudonyms only
    assert audit.verify(logged_store / "audit.jsonl").ok


def _rewrite(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def _edit_purpose(lines):
    e = json.loads(lines[1])
    e["purpose"] = "marketing"
    lines[1] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    return lines


@pytest.mark.parametrize(
    "tamper, bad_entry, reason",
    [
        (_edit_purpose, 2, "entry edited"),
        (lambda ls: ls[:2] + ls[3:], 3, "entry removed or moved"),
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, "entry removed or moved"),
        (lambda ls: ls[:-1], 5, "entries after seq 4 removed"),
        (lambda ls: [*ls[:2], ls[2][:40], *ls[3:]], 3, "not valid JSON"),
    ],
    ids=["edit", "remove", "reorder", "cut-end", "garble"],
)
def test_verify_names_the_first_bad_entry(logged_store, tamper, bad_entry, reason):
    ok = run_cli("audit", "verify", "--store", str(logged_store))
    assert ok.returncode == 0 and "5 entries, chain intact" in ok.stdout, ok.stderr
    _rewrite(logged_store / "audit.jsonl", tamper)
    p = run_cli("audit", "verify", "--store", str(logged_store))
    assert p.returncode == 1
    assert_one_line_error(p, f"entry {bad_entry} is bad", reason)
    assert_one_line_error(run_cli("audit", "export", "--store", str(logged_store)), "is bad")


def test_rewriting_the_whole_chain_is_caught_by_the_store_head(logged_store):
    """Someone who edits an entry and recomputes every later hash still differs from the head the store holds."""
    path = logged_store / "audit.jsonl"
    entries = [json.loads(x) for x in path.read_text().splitlines()]
    entries[1]["purpose"] = "marketing"
    prev = audit.GENESIS
    for e in entries:
        e["prev_hash"] = prev
        e["hash"] = prev = audit.entry_hash(e)
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    with open_store(logged_store, enforce_retention=False) as s:
        v = audit.verify(path, head=s.audit_head())
    assert not v.ok and "differs from the one the store knows" in v.reason


def test_export_jsonl(logged_store, tmp_path):
    p = run_cli("audit", "export", "--store", str(logged_store), "-o", str(tmp_path / "a.jsonl"))
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    p = run_cli("audit", "export", "--store", str(logged_store))
    assert [json.loads(x)["action"] for x in p.stdout.splitlines()][-1] == "retention.set"


def test_analyses_and_exports_are_logged_with_purpose(store, key, smile_analysis, tmp_path):
    store.grant(SUBJECT, purpose="research", scopes="capture,storage")
    store.save_analysis(SUBJECT, smile_analysis, context="healthcare", purpose="pain study")
    store.close()
    p = run_cli(
        "store", "export", SUBJECT, "-o", str(tmp_path / "x"), "--purpose", "sharing with lab B",
        "--store", str(store.folder), key=encode_key(key),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    entries = audit.read(store.folder / "audit.jsonl")
    a = next(e for e in entries if e["action"] == "analysis.store")
    assert a["purpose"] == "pain study" and a["details"]["context"] == "healthcare"
    x = entries[-1]
    assert x["action"] == "export" and x["purpose"] == "sharing with lab B" and x["details"]["images"] == 0


def test_stream_start_needs_streaming_consent_and_is_logged(store, key, monkeypatch):
    from microexpr.ethics.cli import authorize_stream
    from microexpr.store.catalogue import ConsentError

    store.grant(SUBJECT, purpose="research", scopes="capture,storage")
    store.close()
    monkeypatch.setenv("MICROEXPR_KEY", encode_key(key))
    with pytest.raises(ConsentError, match="streaming"):
        authorize_stream(SUBJECT, store=store.folder, purpose="avatar demo", sink="osc://127.0.0.1:9000")
    with open_store(store.folder, key=key) as s:
        s.grant(SUBJECT, purpose="avatar demo", scopes="streaming")
    pseud = authorize_stream(SUBJECT, store=store.folder, purpose="avatar demo", sink="osc://127.0.0.1:9000")
    last = audit.read(store.folder / "audit.jsonl")[-1]
    assert last["action"] == "stream.start" and last["subject"] == pseud and last["purpose"] == "avatar demo"
