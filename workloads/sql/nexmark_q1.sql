-- NEXMark Q1 "currency conversion": every bid with its price in euros (a projection:
-- each bid in the 1 ms window of its event time).
SELECT auction, bidder, 0.908 * price AS price, date_time
FROM nexmark
WHERE kind = 'bid'
