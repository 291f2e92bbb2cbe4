-- Metered pricing: a model version may be priced per millisecond of backend run time (plus a base),
-- capped per call by `price`; existing versions stay fixed-price.
ALTER TABLE `model_versions` ADD `pricing` text DEFAULT 'fixed' NOT NULL;
--> statement-breakpoint
ALTER TABLE `model_versions` ADD `price_per_ms` text DEFAULT '0' NOT NULL;
--> statement-breakpoint
ALTER TABLE `model_versions` ADD `price_base` text DEFAULT '0' NOT NULL;
--> statement-breakpoint
-- Version 2 receipts: the signed fields that bind the admission policy, the billed run time, the
-- pricing terms, the charge and the payment to the result (null on version 1 receipts).
ALTER TABLE `receipts` ADD `policy_id` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `run_ms` integer;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `price_base` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `price_per_ms` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `price_cap` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `charged` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `payment_scheme` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `payment_network` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `payment_asset` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `payer` text;
--> statement-breakpoint
ALTER TABLE `receipts` ADD `payment_nonce` text;
