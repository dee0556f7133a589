-- Modify "settings" table
ALTER TABLE `settings` ADD COLUMN `jwt_issuer` longtext NOT NULL DEFAULT (''), ADD COLUMN `jwt_audience` longtext NOT NULL DEFAULT ('');
