-- The explorer's live view lists the newest receipts and tasks (GET /v1/receipts, GET /v1/tasks):
-- indexes on their creation time keep those listings from scanning and sorting whole tables.
CREATE INDEX IF NOT EXISTS `receipts_created` ON `receipts` (`created_at`);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `tasks_created` ON `tasks` (`created_at`);
