-- NEXMark Q7: the highest bid of each 10 s window, ties to the smallest auction, then
-- bidder: the built-in nexmark-q7, in SQL.
SELECT window_start, window_end, price, auction, bidder
FROM (
  SELECT window_start, window_end, price, auction, bidder,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end
                            ORDER BY price DESC, auction, bidder) AS rn
  FROM TUMBLE(nexmark, DESCRIPTOR(date_time), INTERVAL '10' SECOND)
  WHERE kind = 'bid'
)
WHERE rn = 1
