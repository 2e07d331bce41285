-- 0012: each product records the import that wrote its values (ADR 0033): the per-SKU status
-- names the import of the last accepted version, and product reads show it.
--
-- Safe on a large product table: adding a nullable column without a default rewrites no row
-- in SQLite (only the schema text changes), so the upgrade takes the same time with a million
-- products as with none. Products stored before it read NULL (the import is not known) until
-- a feed writes them again. No foreign key (the ledger may be pruned independently) and no
-- index: the column is read with the product, through the (partner_id, sku) index.
ALTER TABLE product ADD COLUMN feed_id TEXT;    -- partner_feed_imports.id; NULL: not known
