-- 0012: each product records the import that wrote its values (ADR 0033): the per-SKU status
-- names the import of the last accepted version, and product reads show it.
--
-- Safe on a large product table: ADD COLUMN of a nullable column without a default changes
-- only the catalog: no row is rewritten and the ACCESS EXCLUSIVE lock is held for
-- milliseconds (lock_timeout: the upgrade gives up rather than queue every writer behind a
-- long reader). Products stored before it read NULL (the import is not known) until a feed
-- writes them again. No foreign key (the ledger may be pruned independently) and no index:
-- the column is read with the product, through the (partner_id, sku) index.
SET LOCAL lock_timeout = '5s';
ALTER TABLE product ADD COLUMN feed_id text;    -- partner_feed_imports.id; NULL: not known
