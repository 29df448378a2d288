-- The 10 most viewed pages of each hour, ties to the smaller page id: the built-in
-- top-pages-hourly, in SQL (a window top-N, as Flink SQL writes one).
SELECT window_start, window_end, page_id, views, rn AS rank
FROM (
  SELECT window_start, window_end, page_id, COUNT(*) AS views,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end
                            ORDER BY COUNT(*) DESC, page_id) AS rn
  FROM TUMBLE(pageviews, DESCRIPTOR(event_time), INTERVAL '1' HOUR)
  GROUP BY window_start, window_end, page_id
)
WHERE rn <= 10
