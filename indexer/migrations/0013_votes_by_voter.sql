-- An account's votes, newest first (`/accounts/{address}`): one index range scan read backwards.
CREATE INDEX votes_by_voter ON votes (chain_id, voter, block_number, proposal_id);
