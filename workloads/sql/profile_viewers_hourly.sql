-- Distinct viewers per profile page per hour ("who viewed my profile"): the built-in
-- profile-viewers-hourly, in SQL.
SELECT window_start, window_end, page_id AS profile_id,
       COUNT(DISTINCT viewer_id) AS distinct_viewers
FROM TUMBLE(pageviews, DESCRIPTOR(event_time), INTERVAL '1' HOUR)
WHERE page_type = 'profile'
GROUP BY window_start, window_end, page_id
