-- Add column "embed_origins" to table: "settings"
ALTER TABLE `settings` ADD COLUMN `embed_origins` json NULL;
