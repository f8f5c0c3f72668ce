"""``microexpr consent``, ``microexpr store`` and ``microexpr audit verify|export``: command bodies (mounted in cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

consent_app = typer.Typer(
    help="Consent ledger: grant, show, withdraw (withdrawal deletes the data).", no_args_is_help=True
)
store_app = typer.Typer(
    help="The encrypted subject store: create, keys, retention, export.", no_args_is_help=True
)
audit_app = typer.Typer(
    help="The hash-chained audit log, and the per-group bias audit.", no_args_is_help=True
)

_STORE = typer.Option(None, "--store", help="Store folder (default: $MICROEXPR_HOME/store).")
_KEY = typer.Option(None, "--key-file", help="Master key file (base64 of 32 bytes); default: $MICROEXPR_KEY.")


def _open(store: Optional[Path], key_file: Optional[Path], *, create: bool = False, need_key: bool = True):  # noqa: ANN202
    from microexpr.store.catalogue import open_store
    from microexpr.store.crypto import load_master_key

    key = load_master_key(key_file) if need_key else None
    return open_store(store, key=key, create=create)


@consent_app.command("grant")
def consent_grant(
    subject: str = typer.Argument(..., help="The subject's id (stored only as a keyed pseudonym)."),
    purpose: str = typer.Option(..., "--purpose", help="What the data will be used for (e.g. research)."),
    scope: str = typer.Option(
        ..., "--scope", help="Comma list of: capture, storage, emotion, streaming, sharing."
    ),
    expires: Optional[str] = typer.Option(None, "--expires", help="Last day of the consent, YYYY-MM-DD."),
    form: Optional[Path] = typer.Option(
        None, "--form", help="The signed consent form (kept as its SHA-256)."
    ),
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
) -> None:
    """Record a subject's consent (creates the store if needed)."""
    from microexpr.cli import _run, out

    def body() -> None:
        from microexpr.errors import OptionError
        from microexpr.store.catalogue import check_text, parse_date, parse_scopes

        check_text(subject, "subject id", 128)
        check_text(purpose, "--purpose")
        scopes = parse_scopes(scope)
        until = parse_date(expires) if expires else None
        if form is not None and not form.is_file():
            raise OptionError(f"consent form {form} not found")
        with _open(store, key_file, create=True) as s:
            c = s.grant(subject, purpose=purpose, scopes=scopes, expires=until, form=form)
            out.print(
                f"[green]consent recorded:[/] subject {s.pseudonym(subject)}, purpose {c.purpose!r}, scopes "
                f"{', '.join(c.scopes)}, expires {c.expires_at or 'never'}"
                + (f", form sha256 {c.form_sha256[:16]}..." if c.form_sha256 else ""),
                highlight=False,
                soft_wrap=True,
                markup=True,
            )

    _run(body)


@consent_app.command("show")
def consent_show(
    subject: str = typer.Argument(..., help="The subject's id."),
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a subject's consent records and what is stored."""
    from microexpr.cli import _run, out

    def body() -> None:
        from microexpr.store.catalogue import now_utc

        with _open(store, key_file) as s:
            pseud, items, n = s.pseudonym(subject), s.consents(subject), len(s.analyses(subject))
            active = sorted(s.active_scopes(subject))
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "subject": pseud,
                        "active_scopes": active,
                        "analyses": n,
                        "consents": [c.__dict__ for c in items],
                    }
                )
            )
            return
        if not items:
            out.print(f"subject {pseud}: no consent recorded", highlight=False, soft_wrap=True)
            return
        now = now_utc()
        out.print(
            f"subject {pseud}: {n} stored analysis(es); active scopes: {', '.join(active) or 'none'}",
            highlight=False,
            soft_wrap=True,
        )
        for c in items:
            state = "active" if c.active(now) else "expired"
            out.print(
                f"  #{c.id} {state}: purpose {c.purpose!r}, scopes {', '.join(c.scopes)}, granted {c.granted_at},"
                f" expires {c.expires_at or 'never'}"
                + (f", form sha256 {c.form_sha256}" if c.form_sha256 else ""),
                highlight=False,
                soft_wrap=True,
                markup=False,
            )

    _run(body)


@consent_app.command("withdraw")
def consent_withdraw(
    subject: str = typer.Argument(..., help="The subject's id."),
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
) -> None:
    """Withdraw consent: the subject's data key, consents and stored analyses are deleted."""
    from microexpr.cli import _run, out

    def body() -> None:
        with _open(store, key_file) as s:
            pseud = s.pseudonym(subject)
            n = s.withdraw(subject)
        out.print(
            f"withdrawn: subject {pseud}; data key destroyed, {n} analysis(es) deleted",
            highlight=False,
            soft_wrap=True,
        )

    _run(body)


@store_app.command("keygen")
def store_keygen(
    output: Path = typer.Option(..., "-o", "--output", help="Key file to create (refuses to overwrite)."),
) -> None:
    """Make a new master key file (base64 of 32 random bytes, readable by you only)."""
    from microexpr.cli import _run, out

    def body() -> None:
        import os

        from microexpr.errors import OutputError
        from microexpr.store.crypto import encode_key, new_key

        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise OutputError(f"{output} exists; not overwriting a key") from None
        except OSError as e:
            raise OutputError(f"cannot write {output}: {e.strerror or e}") from None
        with os.fdopen(fd, "w") as f:
            f.write(encode_key(new_key()) + "\n")
        out.print(
            f"key written to {output} (keep a copy: without it the store cannot be read)",
            highlight=False,
            soft_wrap=True,
        )

    _run(body)


@store_app.command("init")
def store_init(
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
    retain_days: Optional[int] = typer.Option(
        None, "--retain-days", help="Delete subjects N days after last use."
    ),
) -> None:
    """Create a store (or open an existing one) and set its retention policy."""
    from microexpr.cli import _run, out

    def body() -> None:
        with _open(store, key_file, create=True) as s:
            if retain_days is not None:
                s.set_retention(retain_days)
            info = s.summary()
        out.print(
            f"store {info['store']}: schema v{info['schema_version']}, retain_days {info['retain_days']}",
            highlight=False,
            soft_wrap=True,
        )

    _run(body)


@store_app.command("info")
def store_info(store: Optional[Path] = _STORE) -> None:
    """Schema version, subject and analysis counts, retention (no key needed)."""
    from microexpr.cli import _run, out

    def body() -> None:
        with _open(store, None, need_key=False) as s:
            out.print_json(json.dumps(s.summary()))

    _run(body)


@store_app.command("purge")
def store_purge(
    store: Optional[Path] = _STORE,
    retain_days: Optional[int] = typer.Option(
        None, "--retain-days", help="Set a new retention period first."
    ),
) -> None:
    """Delete every subject unused for longer than the retention period (also done on every open)."""
    from microexpr.cli import _run, out

    def body() -> None:
        from microexpr.store.catalogue import open_store

        with open_store(store, enforce_retention=False) as s:
            if retain_days is not None:
                s.set_retention(retain_days)
            if s.retain_days() is None:
                out.print("no retention period set (store purge --retain-days N); nothing deleted")
                return
            gone = s.purge()
        out.print(f"purged {len(gone)} subject(s)", highlight=False, soft_wrap=True)

    _run(body)


@store_app.command("rotate-key")
def store_rotate_key(
    new_key_file: Path = typer.Option(
        ..., "--new-key-file", help="The new master key (store keygen -o ...)."
    ),
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
) -> None:
    """Re-wrap every data key under a new master key (the data itself is not re-encrypted)."""
    from microexpr.cli import _run, out

    def body() -> None:
        from microexpr.store.crypto import load_master_key

        new = load_master_key(new_key_file)
        with _open(store, key_file) as s:
            n = s.rotate_key(new)
        out.print(f"re-wrapped {n} key(s); use {new_key_file} from now on", highlight=False, soft_wrap=True)

    _run(body)


@store_app.command("export")
def store_export(
    subject: str = typer.Argument(..., help="The subject's id."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder; writes OUTPUT/<pseudonym>/."),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="Why (recorded in the audit log)."),
    store: Optional[Path] = _STORE,
    key_file: Optional[Path] = _KEY,
) -> None:
    """Export a subject's tables under the pseudonym (no images, no video file names)."""
    from microexpr.cli import _run, out

    def body() -> None:
        from microexpr.store.catalogue import check_text

        if purpose is not None:
            check_text(purpose, "--purpose")
        with _open(store, key_file) as s:
            folder = s.export(subject, output, purpose=purpose)
        out.print(f"exported to {folder}", highlight=False, soft_wrap=True)

    _run(body)


@audit_app.command("verify")
def audit_verify(store: Optional[Path] = _STORE) -> None:
    """Check the audit log's hash chain; exits 1 naming the first bad entry."""
    from microexpr.cli import _fail, _run, out

    def body() -> None:
        from microexpr.store import audit
        from microexpr.store.catalogue import open_store

        with open_store(store, enforce_retention=False) as s:
            v = audit.verify(s.audit_path, head=s.audit_head())
        if not v.ok:
            raise _fail(f"audit log {s.audit_path}: entry {v.bad_line} is bad: {v.reason}", 1)
        out.print(f"audit log ok: {v.n_entries} entries, chain intact", highlight=False, soft_wrap=True)

    _run(body)


@audit_app.command("export")
def audit_export(
    store: Optional[Path] = _STORE,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="JSON Lines file (default: stdout)."),
) -> None:
    """The audit log as JSON Lines (after checking the chain)."""
    from microexpr.cli import _run, out

    def body() -> None:
        import sys

        from microexpr.outputs import atomic_write_text
        from microexpr.store import audit
        from microexpr.store.catalogue import StoreError, open_store

        with open_store(store, enforce_retention=False) as s:
            v = audit.verify(s.audit_path, head=s.audit_head())
            if not v.ok:
                raise StoreError(
                    f"audit log entry {v.bad_line} is bad ({v.reason}); not exporting it as valid"
                )
            text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in audit.read(s.audit_path))
        if output is None:
            sys.stdout.write(text)
        else:
            atomic_write_text(output, text)
            out.print(f"{v.n_entries} entries written to {output}", highlight=False, soft_wrap=True)

    _run(body)
