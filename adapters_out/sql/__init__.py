"""SQL shared by the SQLite and PostgreSQL stores: one decoder per row kind, one repository per port.

Each engine supplies a `Dialect` (placeholders, timestamps, JSON columns, conflicts);
what an engine does for a reason of its own (COPY, SKIP LOCKED, advisory locks) stays in
its package, as a subclass of the shared repository. See docs/ADR/0040-row-decoders-and-sql-dialect.md.
"""
