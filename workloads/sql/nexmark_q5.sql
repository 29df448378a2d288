-- NEXMark Q5 "hot items": the auctions with the most bids in each 10 s window sliding by
-- 2 s, every auction tied for the most listed: the built-in nexmark-q5, in SQL.
SELECT window_start, window_end, auction, bids
FROM (
  SELECT window_start, window_end, auction, COUNT(*) AS bids,
         RANK() OVER (PARTITION BY window_start, window_end ORDER BY COUNT(*) DESC) AS r
  FROM HOP(nexmark, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
  WHERE kind = 'bid'
  GROUP BY window_start, window_end, auction
)
WHERE r = 1
