-- Add column "jwt_secret_rotated_at" to table: "settings"
ALTER TABLE `settings` ADD COLUMN `jwt_secret_rotated_at` datetime NULL;
-- Add column "jwt_previous_secret" to table: "settings"
ALTER TABLE `settings` ADD COLUMN `jwt_previous_secret` blob NULL;
-- Add column "jwt_previous_secret_expires_at" to table: "settings"
ALTER TABLE `settings` ADD COLUMN `jwt_previous_secret_expires_at` datetime NULL;
