-- Bytes sent so far for each single-use access order, over all its responses (finished,
-- failed or cut off). An unfinished download may be resumed with a Range, but the total is
-- capped (twice the content's size) so repeated ranges that stop short of the end cannot
-- download the content again and again on one order.
CREATE TABLE order_bytes (
    access_token TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    bytes_sent   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (access_token, order_id)
) WITHOUT ROWID;
