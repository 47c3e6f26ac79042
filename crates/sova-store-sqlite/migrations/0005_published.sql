-- How far committed events have been published to the bus (multi-instance mode):
-- a process that died between commit and publish leaves a gap the next publisher fills.
INSERT INTO counters (name, value) SELECT 'published', value FROM counters WHERE name = 'event';
