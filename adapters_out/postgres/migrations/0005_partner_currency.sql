-- 0006: a partner's currency, for feeds whose format carries none (Shopify's product CSV).

ALTER TABLE partner ADD COLUMN currency text CHECK (currency IS NULL OR length(currency) = 3);
