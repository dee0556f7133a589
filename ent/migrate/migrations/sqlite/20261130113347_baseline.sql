-- Create "api_tokens" table
CREATE TABLE `api_tokens` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `name` text NOT NULL, `token_hash` blob NOT NULL, `last_used_at` datetime NULL, `expires_at` datetime NULL, `user_id` integer NOT NULL, CONSTRAINT `api_tokens_users_api_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "api_tokens_token_hash_key" to table: "api_tokens"
CREATE UNIQUE INDEX `api_tokens_token_hash_key` ON `api_tokens` (`token_hash`);
-- Create index "apitoken_user_id" to table: "api_tokens"
CREATE INDEX `apitoken_user_id` ON `api_tokens` (`user_id`);
-- Create "email_tokens" table
CREATE TABLE `email_tokens` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `purpose` text NOT NULL, `token_hash` blob NOT NULL, `email` text NOT NULL, `ip` text NOT NULL DEFAULT (''), `expires_at` datetime NOT NULL, `used_at` datetime NULL, `user_id` integer NULL, CONSTRAINT `email_tokens_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "email_tokens" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("email_tokens", 47244640256);
-- Create index "email_tokens_token_hash_key" to table: "email_tokens"
CREATE UNIQUE INDEX `email_tokens_token_hash_key` ON `email_tokens` (`token_hash`);
-- Create index "emailtoken_user_id_purpose" to table: "email_tokens"
CREATE INDEX `emailtoken_user_id_purpose` ON `email_tokens` (`user_id`, `purpose`);
-- Create index "emailtoken_email_purpose_created_at" to table: "email_tokens"
CREATE INDEX `emailtoken_email_purpose_created_at` ON `email_tokens` (`email`, `purpose`, `created_at`);
-- Create index "emailtoken_ip_purpose_created_at" to table: "email_tokens"
CREATE INDEX `emailtoken_ip_purpose_created_at` ON `email_tokens` (`ip`, `purpose`, `created_at`);
-- Create index "emailtoken_expires_at" to table: "email_tokens"
CREATE INDEX `emailtoken_expires_at` ON `email_tokens` (`expires_at`);
-- Create "login_throttles" table
CREATE TABLE `login_throttles` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `key` text NOT NULL, `ip` text NOT NULL DEFAULT (''), `subject` text NOT NULL DEFAULT (''), `failures` integer NOT NULL DEFAULT (0), `last_at` datetime NOT NULL, `expires_at` datetime NOT NULL);
-- Set sequence for "login_throttles" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("login_throttles", 42949672960);
-- Create index "login_throttles_key_key" to table: "login_throttles"
CREATE UNIQUE INDEX `login_throttles_key_key` ON `login_throttles` (`key`);
-- Create index "loginthrottle_expires_at" to table: "login_throttles"
CREATE INDEX `loginthrottle_expires_at` ON `login_throttles` (`expires_at`);
-- Create "profile_fields" table
CREATE TABLE `profile_fields` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key` text NOT NULL, `name` text NOT NULL, `type` text NOT NULL DEFAULT ('TEXT'), `options` json NULL, `external_keys` json NULL);
-- Set sequence for "profile_fields" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("profile_fields", 4294967296);
-- Create index "profile_fields_key_key" to table: "profile_fields"
CREATE UNIQUE INDEX `profile_fields_key_key` ON `profile_fields` (`key`);
-- Create "profile_field_values" table
CREATE TABLE `profile_field_values` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key` text NOT NULL, `value` text NOT NULL, `field_id` integer NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `profile_field_values_profile_fields_values` FOREIGN KEY (`field_id`) REFERENCES `profile_fields` (`id`) ON DELETE CASCADE, CONSTRAINT `profile_field_values_users_fields` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "profile_field_values" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("profile_field_values", 8589934592);
-- Create index "profilefieldvalue_user_id_field_id" to table: "profile_field_values"
CREATE UNIQUE INDEX `profilefieldvalue_user_id_field_id` ON `profile_field_values` (`user_id`, `field_id`);
-- Create index "profilefieldvalue_field_id" to table: "profile_field_values"
CREATE INDEX `profilefieldvalue_field_id` ON `profile_field_values` (`field_id`);
-- Create "replay_markers" table
CREATE TABLE `replay_markers` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `key` text NOT NULL, `expires_at` datetime NOT NULL);
-- Set sequence for "replay_markers" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("replay_markers", 12884901888);
-- Create index "replay_markers_key_key" to table: "replay_markers"
CREATE UNIQUE INDEX `replay_markers_key_key` ON `replay_markers` (`key`);
-- Create index "replaymarker_expires_at" to table: "replay_markers"
CREATE INDEX `replaymarker_expires_at` ON `replay_markers` (`expires_at`);
-- Create "security_events" table
CREATE TABLE `security_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `type` text NOT NULL, `method` text NOT NULL DEFAULT (''), `ip` text NOT NULL DEFAULT (''), `user_agent` text NOT NULL DEFAULT (''), `subject` text NOT NULL DEFAULT (''), `detail` json NULL, `user_id` integer NULL, CONSTRAINT `security_events_users_security_events` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Set sequence for "security_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("security_events", 17179869184);
-- Create index "securityevent_created_at" to table: "security_events"
CREATE INDEX `securityevent_created_at` ON `security_events` (`created_at`);
-- Create index "securityevent_type_created_at" to table: "security_events"
CREATE INDEX `securityevent_type_created_at` ON `security_events` (`type`, `created_at`);
-- Create index "securityevent_user_id_created_at" to table: "security_events"
CREATE INDEX `securityevent_user_id_created_at` ON `security_events` (`user_id`, `created_at`);
-- Create "sessions" table
CREATE TABLE `sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `token_hash` blob NOT NULL, `method` text NOT NULL, `expires_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `ip` text NOT NULL DEFAULT (''), `user_agent` text NOT NULL DEFAULT (''), `id_token` blob NULL, `refresh_token` blob NULL, `revalidate_at` datetime NULL, `user_id` integer NOT NULL, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "sessions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("sessions", 21474836480);
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create "settings" table
CREATE TABLE `settings` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email_password_enabled` bool NOT NULL DEFAULT (true), `new_users_homepage` text NOT NULL DEFAULT (''), `sync_username` bool NOT NULL DEFAULT (false), `oauth2_enabled` bool NOT NULL DEFAULT (false), `oauth2_provider` text NOT NULL DEFAULT ('CUSTOM'), `oauth2_client_id` text NOT NULL DEFAULT (''), `oauth2_client_secret` blob NULL, `oauth2_domain` text NOT NULL DEFAULT (''), `oauth2_authorization_url` text NOT NULL DEFAULT (''), `oauth2_token_url` text NOT NULL DEFAULT (''), `oauth2_user_info_url` text NOT NULL DEFAULT (''), `oauth2_issuer` text NOT NULL DEFAULT (''), `oauth2_scopes` json NULL, `oauth2_account_settings_url` text NOT NULL DEFAULT (''), `oauth2_logout_url` text NOT NULL DEFAULT (''), `oauth2_login_button_text` text NOT NULL DEFAULT (''), `oauth2_admin_claim` text NOT NULL DEFAULT (''), `oauth2_admin_claim_value` text NOT NULL DEFAULT (''), `oauth2_moderator_claim` text NOT NULL DEFAULT (''), `oauth2_moderator_claim_value` text NOT NULL DEFAULT (''), `oauth2_refresh_minutes` integer NOT NULL DEFAULT (0), `jwt_enabled` bool NOT NULL DEFAULT (false), `jwt_secret` blob NULL, `jwt_login_button_text` text NOT NULL DEFAULT (''), `jwt_authorization_url` text NOT NULL DEFAULT (''), `jwt_sign_up_url` text NOT NULL DEFAULT (''), `jwt_logout_url` text NOT NULL DEFAULT (''), `jwt_account_settings_url` text NOT NULL DEFAULT (''), `jwt_max_token_age_seconds` integer NOT NULL DEFAULT (300), `jwt_require_jti` bool NOT NULL DEFAULT (false), `jwt_admin_claim` text NOT NULL DEFAULT (''), `jwt_admin_claim_value` text NOT NULL DEFAULT (''), `jwt_moderator_claim` text NOT NULL DEFAULT (''), `jwt_moderator_claim_value` text NOT NULL DEFAULT (''), `identifiers_version` integer NOT NULL DEFAULT (0), `key_check` blob NULL);
-- Set sequence for "settings" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("settings", 25769803776);
-- Create "spaces" table
CREATE TABLE `spaces` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NOT NULL);
-- Set sequence for "spaces" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("spaces", 30064771072);
-- Create index "spaces_slug_key" to table: "spaces"
CREATE UNIQUE INDEX `spaces_slug_key` ON `spaces` (`slug`);
-- Create "space_memberships" table
CREATE TABLE `space_memberships` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `role` text NOT NULL DEFAULT ('MEMBER'), `space_id` integer NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `space_memberships_spaces_members` FOREIGN KEY (`space_id`) REFERENCES `spaces` (`id`) ON DELETE CASCADE, CONSTRAINT `space_memberships_users_spaces` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "space_memberships" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("space_memberships", 34359738368);
-- Create index "spacemembership_user_id_space_id" to table: "space_memberships"
CREATE UNIQUE INDEX `spacemembership_user_id_space_id` ON `space_memberships` (`user_id`, `space_id`);
-- Create index "spacemembership_space_id" to table: "space_memberships"
CREATE INDEX `spacemembership_space_id` ON `space_memberships` (`space_id`);
-- Create "users" table
CREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `external_id` text NULL, `email` text NOT NULL, `email_verified` bool NOT NULL DEFAULT (true), `name` text NOT NULL DEFAULT (''), `username` text NOT NULL, `tagline` text NOT NULL DEFAULT (''), `picture` text NOT NULL DEFAULT (''), `role` text NOT NULL DEFAULT ('MEMBER'), `status` text NOT NULL DEFAULT ('ACTIVE'), `password_hash` text NULL, `last_login_at` datetime NULL);
-- Set sequence for "users" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("users", 38654705664);
-- Create index "users_external_id_key" to table: "users"
CREATE UNIQUE INDEX `users_external_id_key` ON `users` (`external_id`);
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create index "users_username_key" to table: "users"
CREATE UNIQUE INDEX `users_username_key` ON `users` (`username`);
-- Create index "user_role_status" to table: "users"
CREATE INDEX `user_role_status` ON `users` (`role`, `status`);
-- Create index "user_status" to table: "users"
CREATE INDEX `user_status` ON `users` (`status`);
-- Create index "user_name" to table: "users"
CREATE INDEX `user_name` ON `users` (`name`);
-- Create index "user_last_login_at" to table: "users"
CREATE INDEX `user_last_login_at` ON `users` (`last_login_at`);
-- Create index "user_created_at" to table: "users"
CREATE INDEX `user_created_at` ON `users` (`created_at`);
-- Create index "user_updated_at" to table: "users"
CREATE INDEX `user_updated_at` ON `users` (`updated_at`);
