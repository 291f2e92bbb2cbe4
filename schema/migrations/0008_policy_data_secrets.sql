-- A policy client's secrets for one PolicyData binary, sealed under a key derived from the
-- gateway's secret (schema/policy-data-secrets.ts, workers/intents/policy-data-secrets.ts).
CREATE TABLE `policy_data_secrets` (
	`policy_client` text NOT NULL,
	`policy_data` text NOT NULL,
	`sealed` text NOT NULL,
	`names` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`policy_client`, `policy_data`)
);
