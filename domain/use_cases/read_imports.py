"""Use case: a partner reads its own feed imports and products (ADR 0006).

Another partner's import answers exactly like one that does not exist
(NotFoundError): saying "forbidden" would confirm that the id exists and let
partners enumerate one another's feeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from partner_ingest.domain.model.errors import InvalidError, NotFoundError
from partner_ingest.domain.model.feed_import import FeedImport
from partner_ingest.domain.model.product import Product
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .paging import check_limit
from .product_cache import ProductReadCache

__all__ = [
    "MAX_IMPORTS_PAGE",
    "MAX_NAME_SEARCH",
    "MAX_PRODUCTS_PAGE",
    "ProductPage",
    "ReadImports",
    "ReadProducts",
]

MAX_IMPORTS_PAGE: Final = 200
MAX_PRODUCTS_PAGE: Final = 1000
NAME_SEARCH_SCAN: Final = 20_000
"""Products one name search looks at, at most: a substring has no index to use (ADR 0038), so
this bounds the scan (about 8 ms on SQLite, 100,000 products) however rare the name."""
MAX_NAME_SEARCH: Final = 200
"""Characters of a name search (a product name holds at most what the contract allows)."""


class ReadImports:
    """The ledger, as one partner may see it."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def get(self, partner_id: str, feed_id: str) -> FeedImport:
        """One of the partner's imports; NotFoundError when unknown or another partner's."""
        with self._uow(read_only=True) as uow:
            found = uow.imports.get(feed_id)
        if found is None or found.partner_id != partner_id:
            raise NotFoundError("feed", feed_id)
        return found

    def recent(self, partner_id: str, *, limit: int = 50) -> list[FeedImport]:
        """The partner's latest imports, most recent first."""
        check_limit(limit, MAX_IMPORTS_PAGE)
        with self._uow(read_only=True) as uow:
            return uow.imports.recent(partner_id, limit=limit)


@attrs.frozen
class ProductPage:
    """Products in SKU order and the cursor of the next page."""

    products: tuple[Product, ...]
    next_after: str | None
    """Pass as `after_sku` to read the next page; None on the last page."""


@attrs.frozen
class NamePage:
    """Products found by name, in SKU order, and the cursor of the rest of the search."""

    products: tuple[Product, ...]
    next_after: str | None
    """Pass as `after_sku` to search on; None once the catalog's end was searched."""
    searched_to: str | None
    """The last SKU looked at when the scan stopped short of a full page (the page is all the
    matches up to it); None when the page is full or the catalog's end was reached."""


class ReadProducts:
    """The catalog, as one partner may see it: its own products only.

    With `cache`, one active product by SKU is read through it (ADR 0017); every other
    read goes to the store."""

    def __init__(self, uow: UnitOfWorkFactory, *, cache: ProductReadCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    def get(self, partner_id: str, sku: str, *, retired: bool = False) -> Product:
        """One of the partner's active products (`retired=True`: retired ones); NotFoundError otherwise."""
        if self._cache is not None and not retired:
            found = self._cache.read(partner_id, sku, lambda: self._load(partner_id, sku, retired=False))
        else:
            found = self._load(partner_id, sku, retired=retired)
        if found is None:
            raise NotFoundError("product", sku)
        return found

    def _load(self, partner_id: str, sku: str, *, retired: bool) -> Product | None:
        with self._uow(read_only=True) as uow:
            return uow.products.get(partner_id, sku, retired=retired)

    def page(
        self,
        partner_id: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        retired: bool = False,
        updated_since: datetime | None = None,
    ) -> ProductPage:
        """A page of the partner's active products (`retired=True`: retired ones) in SKU order,
        after `after_sku`; `updated_since`: only those written at or after it."""
        check_limit(limit, MAX_PRODUCTS_PAGE)
        with self._uow(read_only=True) as uow:
            found = uow.products.page(
                partner_id, after_sku=after_sku, limit=limit + 1, retired=retired, updated_since=updated_since
            )
        page = tuple(found[:limit])
        return ProductPage(products=page, next_after=page[-1].sku if len(found) > limit else None)

    def search_names(
        self, partner_id: str, text: str, *, after_sku: str | None = None, limit: int = 100
    ) -> NamePage:
        """A page of the partner's products whose name contains `text` (ASCII case ignored), in SKU
        order after `after_sku`. Each call looks at NAME_SEARCH_SCAN products at most: a rare name
        may answer a short (even empty) page whose cursor goes on from where the scan stopped."""
        check_limit(limit, MAX_PRODUCTS_PAGE)
        wanted = text.strip()
        if not wanted or len(wanted) > MAX_NAME_SEARCH:
            raise InvalidError(f"name search: 1 to {MAX_NAME_SEARCH} characters")
        with self._uow(read_only=True) as uow:
            found = uow.products.search_names(
                partner_id, wanted, after_sku=after_sku, limit=limit + 1, scan=NAME_SEARCH_SCAN
            )
        page = tuple(found.products[:limit])
        if len(found.products) > limit:
            return NamePage(page, next_after=page[-1].sku, searched_to=None)
        return NamePage(page, next_after=found.scanned_to, searched_to=found.scanned_to)
