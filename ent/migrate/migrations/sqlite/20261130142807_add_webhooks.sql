-- Create "webhooks" table
CREATE TABLE `webhooks` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `url` text NOT NULL, `events` json NOT NULL, `secret` blob NOT NULL, `enabled` bool NOT NULL DEFAULT (true));
-- Set sequence for "webhooks" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("webhooks", 51539607552);
-- Create index "webhook_enabled" to table: "webhooks"
CREATE INDEX `webhook_enabled` ON `webhooks` (`enabled`);
-- Create "webhook_deliveries" table
CREATE TABLE `webhook_deliveries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `event` text NOT NULL, `payload` text NOT NULL, `message_id` text NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `last_attempt_at` datetime NULL, `last_response_code` integer NULL, `last_error` text NOT NULL DEFAULT (''), `claim` text NOT NULL DEFAULT (''), `locked_until` datetime NULL, `webhook_id` integer NOT NULL, CONSTRAINT `webhook_deliveries_webhooks_deliveries` FOREIGN KEY (`webhook_id`) REFERENCES `webhooks` (`id`) ON DELETE CASCADE);
-- Set sequence for "webhook_deliveries" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("webhook_deliveries", 55834574848);
-- Create index "webhookdelivery_status_next_attempt_at" to table: "webhook_deliveries"
CREATE INDEX `webhookdelivery_status_next_attempt_at` ON `webhook_deliveries` (`status`, `next_attempt_at`);
-- Create index "webhookdelivery_webhook_id" to table: "webhook_deliveries"
CREATE INDEX `webhookdelivery_webhook_id` ON `webhook_deliveries` (`webhook_id`);
