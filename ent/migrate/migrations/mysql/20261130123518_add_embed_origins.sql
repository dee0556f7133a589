-- Modify "settings" table
ALTER TABLE `settings` ADD COLUMN `embed_origins` json NULL;
