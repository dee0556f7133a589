-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sessions" table
CREATE TABLE `new_sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `token_hash` blob NOT NULL, `method` text NOT NULL, `expires_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `ip` text NOT NULL DEFAULT (''), `user_agent` text NOT NULL DEFAULT (''), `id_token` blob NULL, `refresh_token` blob NULL, `revalidate_at` datetime NULL, `oidc_sid` text NULL, `user_id` integer NOT NULL, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "new_sessions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_sessions", 21474836480);
-- Copy rows from old table "sessions" to new temporary table "new_sessions"
INSERT INTO `new_sessions` (`id`, `created_at`, `token_hash`, `method`, `expires_at`, `last_seen_at`, `ip`, `user_agent`, `id_token`, `refresh_token`, `revalidate_at`, `user_id`) SELECT `id`, `created_at`, `token_hash`, `method`, `expires_at`, `last_seen_at`, `ip`, `user_agent`, `id_token`, `refresh_token`, `revalidate_at`, `user_id` FROM `sessions`;
-- Drop "sessions" table after copying rows
DROP TABLE `sessions`;
-- Rename temporary table "new_sessions" to "sessions"
ALTER TABLE `new_sessions` RENAME TO `sessions`;
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create index "session_oidc_sid" to table: "sessions"
CREATE INDEX `session_oidc_sid` ON `sessions` (`oidc_sid`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
