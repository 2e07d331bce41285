"""SQLite, the embedded default (ADR 0001): raw parameterized SQL in small DAO classes (ADR 0002)."""
