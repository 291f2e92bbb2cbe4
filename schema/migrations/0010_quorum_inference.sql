-- Quorum inference: what a model's publisher declares at upload for quorum-attested calls. The quorum
-- an attestation needs (basis points of operator stake), and how far operators' float outputs may be
-- from the reference and still agree: |x - ref| <= absolute + relative * |ref| (decimal text, exact
-- as a float64). Existing versions get two thirds of stake and exact agreement.
ALTER TABLE `model_versions` ADD `quorum_threshold_bps` integer DEFAULT 6700 NOT NULL;
--> statement-breakpoint
ALTER TABLE `model_versions` ADD `tolerance_absolute` text DEFAULT '0' NOT NULL;
--> statement-breakpoint
ALTER TABLE `model_versions` ADD `tolerance_relative` text DEFAULT '0' NOT NULL;
