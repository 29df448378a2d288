-- YSB: `view` events per campaign per 10 s, through the static ad -> campaign table
-- (the topic's side table `campaigns`, `<data>/datasets/<topic>.campaigns.csv`): the
-- built-in ysb-campaign-10s, in SQL.
SELECT window_start, window_end, c.campaign_id, COUNT(*) AS views
FROM TUMBLE(ysb, DESCRIPTOR(event_time), INTERVAL '10' SECOND) AS e
JOIN campaigns AS c ON e.ad_id = c.ad_id
WHERE e.event_type = 'view'
GROUP BY window_start, window_end, c.campaign_id
