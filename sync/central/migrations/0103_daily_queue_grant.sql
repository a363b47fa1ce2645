-- The counting_results trigger of 0006 queues changed minutes in the delivering role's name: box roles may
-- add to the queue (a row there only makes the refresh recompute that camera's day), nothing else.
GRANT INSERT ON daily_summary_queue TO edge_box;
