CREATE TABLE `payments` (
	`id` text PRIMARY KEY NOT NULL,
	`nonce_key` text NOT NULL,
	`network` text NOT NULL,
	`asset` text NOT NULL,
	`payer` text NOT NULL,
	`pay_to` text NOT NULL,
	`amount` text NOT NULL,
	`nonce` text NOT NULL,
	`model` text NOT NULL,
	`version` integer NOT NULL,
	`request_id` text,
	`state` text NOT NULL,
	`settlement` text NOT NULL,
	`transaction` text,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payments_nonce_key_unique` ON `payments` (`nonce_key`);--> statement-breakpoint
CREATE INDEX `payments_payer` ON `payments` (`payer`);--> statement-breakpoint
ALTER TABLE `model_versions` ADD `settlement` text DEFAULT 'sync' NOT NULL;