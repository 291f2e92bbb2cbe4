ALTER TABLE `payments` ADD `scheme` text DEFAULT 'exact' NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `charged` text;--> statement-breakpoint
ALTER TABLE `payments` ADD `payment_identifier` text;--> statement-breakpoint
ALTER TABLE `payments` ADD `request_hash` text;--> statement-breakpoint
ALTER TABLE `payments` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `next_attempt_at` integer;--> statement-breakpoint
CREATE INDEX `payments_identifier` ON `payments` (`payer`,`payment_identifier`);