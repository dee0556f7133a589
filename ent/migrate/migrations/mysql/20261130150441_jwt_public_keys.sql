-- Modify "settings" table
ALTER TABLE `settings` ADD COLUMN `jwt_public_keys` json NULL, ADD COLUMN `jwt_jwks_url` longtext NOT NULL DEFAULT ('');
