CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`key_hash` text NOT NULL,
	`label` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `model_policies` (
	`model` text PRIMARY KEY NOT NULL,
	`policy_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`policy_id`) REFERENCES `policies`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `policies` (
	`id` text PRIMARY KEY NOT NULL,
	`modules` text NOT NULL,
	`entrypoint` text NOT NULL,
	`params` text NOT NULL,
	`policy_data` text NOT NULL,
	`threshold_bps` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `operators` (
	`id` text PRIMARY KEY NOT NULL,
	`bls_public_key` text NOT NULL,
	`proof_of_possession` text NOT NULL,
	`url` text NOT NULL,
	`address` text,
	`stake` text DEFAULT '0' NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`registered_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `operators_bls_public_key_unique` ON `operators` (`bls_public_key`);--> statement-breakpoint
CREATE TABLE `policy_data` (
	`sha256` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`policy_id` text NOT NULL,
	`intent_hash` text NOT NULL,
	`chain_id` integer NOT NULL,
	`expiration` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_policy` ON `tasks` (`policy_id`);