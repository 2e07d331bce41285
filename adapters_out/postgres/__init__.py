"""PostgreSQL, for platforms that outgrow one machine: the same repositories on psycopg 3."""
