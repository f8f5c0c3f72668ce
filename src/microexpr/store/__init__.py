"""The subject store: SQLite catalogue, consent ledger, encryption at rest, retention and the audit log."""
