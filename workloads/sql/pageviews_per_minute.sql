-- Views per page per minute: the built-in pageviews-per-minute, in SQL.
SELECT window_start, window_end, page_id, COUNT(*) AS views
FROM TUMBLE(pageviews, DESCRIPTOR(event_time), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end, page_id
