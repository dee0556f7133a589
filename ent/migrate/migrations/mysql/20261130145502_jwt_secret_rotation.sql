-- Modify "settings" table
ALTER TABLE `settings` ADD COLUMN `jwt_secret_rotated_at` datetime(6) NULL, ADD COLUMN `jwt_previous_secret` blob NULL, ADD COLUMN `jwt_previous_secret_expires_at` datetime(6) NULL;
