-- NEXMark Q2 "selection": the bids on a few auctions (every 123rd auction id).
SELECT auction, price
FROM nexmark
WHERE kind = 'bid' AND MOD(auction, 123) = 0
