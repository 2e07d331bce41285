"""One contract for every store: memory, SQLite, PostgreSQL behave the same.

The suite is the kit shipped to embedders (`partner_ingest.testing.storage`, ADR 0031):
this module runs that one copy over each of our stores (conftest.py), exactly as an
embedder runs it over theirs.
"""

from __future__ import annotations

import pytest
from support.stores import StoreUnderTest

from partner_ingest.testing.storage import StorageContract


@pytest.fixture
def store_under_test(store: StoreUnderTest) -> StoreUnderTest:
    """The kit's fixture: each of memory, SQLite and PostgreSQL (conftest.py's `store`)."""
    return store


class TestStorageContract(StorageContract):
    """The storage kit over our three stores."""
