CREATE TABLE `intent_rate_limits` (
	`caller` text NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`caller`, `window_start`)
);
--> statement-breakpoint
CREATE INDEX `intent_rate_limits_window` ON `intent_rate_limits` (`window_start`);--> statement-breakpoint
ALTER TABLE `operators` DROP COLUMN `stake`;--> statement-breakpoint
ALTER TABLE `operators` DROP COLUMN `status`;