CREATE TABLE `backends` (
	`id` text PRIMARY KEY NOT NULL,
	`address` text NOT NULL,
	`url` text NOT NULL,
	`execution_provider` text NOT NULL,
	`models` text DEFAULT '"*"' NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`registered_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `model_versions` (
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`inputs` text NOT NULL,
	`outputs` text NOT NULL,
	`price` text DEFAULT '0' NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`name`, `version`)
);
--> statement-breakpoint
CREATE INDEX `model_versions_sha256` ON `model_versions` (`sha256`);--> statement-breakpoint
CREATE TABLE `receipts` (
	`request_id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`version` integer NOT NULL,
	`model_sha256` text NOT NULL,
	`input_hash` text NOT NULL,
	`output_hash` text NOT NULL,
	`backend` text NOT NULL,
	`execution_provider` text NOT NULL,
	`issued_at` integer NOT NULL,
	`timings` text NOT NULL,
	`signature` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch() * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `receipts_backend` ON `receipts` (`backend`);--> statement-breakpoint
CREATE INDEX `receipts_model` ON `receipts` (`model`,`version`);