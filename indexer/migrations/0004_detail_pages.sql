-- Keyset pages of the lists the detail endpoints embed (an asset's sales and holders, an
-- account's assets, orders and releases, a proposal's votes): each index leads with the
-- list's owner and then follows the endpoint's ORDER BY, so a page is one index range scan,
-- read backwards for the newest-first lists. The indexes on the owner alone are replaced by
-- the wider ones, which serve the same lookups.
DROP INDEX purchases_by_asset;
CREATE INDEX purchases_by_asset ON purchases (chain_id, asset_id, block_number, log_index);

DROP INDEX access_orders_by_consumer;
CREATE INDEX access_orders_by_consumer ON access_orders (chain_id, consumer, block_number, order_id, token);

DROP INDEX assets_by_owner;
CREATE INDEX assets_by_owner ON assets (chain_id, owner, asset_id);

-- Emptied balances stay as rows; only holders are listed.
CREATE INDEX access_balances_by_balance ON access_balances (chain_id, token, balance, holder)
    WHERE balance > 0;

CREATE INDEX votes_by_proposal ON votes (chain_id, proposal_id, block_number, voter);

CREATE INDEX releases_by_recipient ON releases (chain_id, recipient, block_number, log_index);
