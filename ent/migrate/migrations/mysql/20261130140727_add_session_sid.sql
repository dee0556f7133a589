-- Modify "sessions" table
ALTER TABLE `sessions` ADD COLUMN `oidc_sid` varchar(255) NULL, ADD INDEX `session_oidc_sid` (`oidc_sid`);
