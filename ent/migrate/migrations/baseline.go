package migrations

import (
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"
)

// Baseline returns the tables of the baseline, the first migration file, in ent's terms: what
// ent/migrate's Tables were when the releases before versioned migrations laid out their
// databases with ent's automatic migration. It is a frozen copy of ent/migrate/schema.go from
// then (the table ranges of global ids included) and must not change with the schema: store
// brings a database of those releases to it before it adopts the baseline.
func Baseline() []*schema.Table {
	// APITokensColumns holds the columns for the "api_tokens" table.
	APITokensColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "name", Type: field.TypeString, Size: 200},
		{Name: "token_hash", Type: field.TypeBytes, Unique: true, SchemaType: map[string]string{"mysql": "binary(32)"}},
		{Name: "last_used_at", Type: field.TypeTime, Nullable: true, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "expires_at", Type: field.TypeTime, Nullable: true, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "user_id", Type: field.TypeInt},
	}
	// EmailTokensColumns holds the columns for the "email_tokens" table.
	EmailTokensColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "purpose", Type: field.TypeEnum, Enums: []string{"VERIFY_EMAIL", "RESET_PASSWORD"}},
		{Name: "token_hash", Type: field.TypeBytes, Unique: true, SchemaType: map[string]string{"mysql": "binary(32)"}},
		{Name: "email", Type: field.TypeString, Size: 200},
		{Name: "ip", Type: field.TypeString, Size: 64, Default: ""},
		{Name: "expires_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "used_at", Type: field.TypeTime, Nullable: true, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "user_id", Type: field.TypeInt, Nullable: true},
	}
	// LoginThrottlesColumns holds the columns for the "login_throttles" table.
	LoginThrottlesColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "key", Type: field.TypeString, Unique: true, Size: 64},
		{Name: "ip", Type: field.TypeString, Size: 64, Default: ""},
		{Name: "subject", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "failures", Type: field.TypeInt, Default: 0},
		{Name: "last_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "expires_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
	}
	// ProfileFieldsColumns holds the columns for the "profile_fields" table.
	ProfileFieldsColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "updated_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "key", Type: field.TypeString, Unique: true, Size: 64},
		{Name: "name", Type: field.TypeString, Size: 200},
		{Name: "type", Type: field.TypeEnum, Enums: []string{"TEXT", "NUMBER", "BOOLEAN", "URL", "EMAIL", "DATE", "SELECT"}, Default: "TEXT"},
		{Name: "options", Type: field.TypeJSON, Nullable: true},
		{Name: "external_keys", Type: field.TypeJSON, Nullable: true},
	}
	// ProfileFieldValuesColumns holds the columns for the "profile_field_values" table.
	ProfileFieldValuesColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "updated_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "key", Type: field.TypeString, Size: 64},
		{Name: "value", Type: field.TypeString, Size: 2147483647},
		{Name: "field_id", Type: field.TypeInt},
		{Name: "user_id", Type: field.TypeInt},
	}
	// ReplayMarkersColumns holds the columns for the "replay_markers" table.
	ReplayMarkersColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "key", Type: field.TypeString, Unique: true, Size: 64},
		{Name: "expires_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
	}
	// SecurityEventsColumns holds the columns for the "security_events" table.
	SecurityEventsColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "type", Type: field.TypeString, Size: 64},
		{Name: "method", Type: field.TypeString, Size: 16, Default: ""},
		{Name: "ip", Type: field.TypeString, Size: 64, Default: ""},
		{Name: "user_agent", Type: field.TypeString, Size: 512, Default: ""},
		{Name: "subject", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "detail", Type: field.TypeJSON, Nullable: true},
		{Name: "user_id", Type: field.TypeInt, Nullable: true},
	}
	// SessionsColumns holds the columns for the "sessions" table.
	SessionsColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "token_hash", Type: field.TypeBytes, Unique: true, SchemaType: map[string]string{"mysql": "binary(32)"}},
		{Name: "method", Type: field.TypeEnum, Enums: []string{"PASSWORD", "OAUTH2", "JWT"}},
		{Name: "expires_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "last_seen_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "ip", Type: field.TypeString, Size: 64, Default: ""},
		{Name: "user_agent", Type: field.TypeString, Size: 512, Default: ""},
		{Name: "id_token", Type: field.TypeBytes, Nullable: true},
		{Name: "refresh_token", Type: field.TypeBytes, Nullable: true},
		{Name: "revalidate_at", Type: field.TypeTime, Nullable: true, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "user_id", Type: field.TypeInt},
	}
	// SettingsColumns holds the columns for the "settings" table.
	SettingsColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "updated_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "email_password_enabled", Type: field.TypeBool, Default: true},
		{Name: "new_users_homepage", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "sync_username", Type: field.TypeBool, Default: false},
		{Name: "oauth2_enabled", Type: field.TypeBool, Default: false},
		{Name: "oauth2_provider", Type: field.TypeEnum, Enums: []string{"OKTA", "AUTH0", "WORDPRESS", "OUTSETA", "MEMBERFUL", "CUSTOM"}, Default: "CUSTOM"},
		{Name: "oauth2_client_id", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "oauth2_client_secret", Type: field.TypeBytes, Nullable: true},
		{Name: "oauth2_domain", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "oauth2_authorization_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_token_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_user_info_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_issuer", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_scopes", Type: field.TypeJSON, Nullable: true},
		{Name: "oauth2_account_settings_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_logout_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "oauth2_login_button_text", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "oauth2_admin_claim", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "oauth2_admin_claim_value", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "oauth2_moderator_claim", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "oauth2_moderator_claim_value", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "oauth2_refresh_minutes", Type: field.TypeInt, Default: 0},
		{Name: "jwt_enabled", Type: field.TypeBool, Default: false},
		{Name: "jwt_secret", Type: field.TypeBytes, Nullable: true},
		{Name: "jwt_login_button_text", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "jwt_authorization_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "jwt_sign_up_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "jwt_logout_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "jwt_account_settings_url", Type: field.TypeString, Size: 2147483647, Default: ""},
		{Name: "jwt_max_token_age_seconds", Type: field.TypeInt, Default: 300},
		{Name: "jwt_require_jti", Type: field.TypeBool, Default: false},
		{Name: "jwt_admin_claim", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "jwt_admin_claim_value", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "jwt_moderator_claim", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "jwt_moderator_claim_value", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "identifiers_version", Type: field.TypeInt, Default: 0},
		{Name: "key_check", Type: field.TypeBytes, Nullable: true},
	}
	// SpacesColumns holds the columns for the "spaces" table.
	SpacesColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "name", Type: field.TypeString, Size: 200},
		{Name: "slug", Type: field.TypeString, Unique: true, Size: 100},
	}
	// SpaceMembershipsColumns holds the columns for the "space_memberships" table.
	SpaceMembershipsColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "role", Type: field.TypeEnum, Enums: []string{"ADMIN", "MEMBER"}, Default: "MEMBER"},
		{Name: "space_id", Type: field.TypeInt},
		{Name: "user_id", Type: field.TypeInt},
	}
	// UsersColumns holds the columns for the "users" table.
	UsersColumns := []*schema.Column{
		{Name: "id", Type: field.TypeInt, Increment: true},
		{Name: "created_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "updated_at", Type: field.TypeTime, SchemaType: map[string]string{"mysql": "datetime(6)"}},
		{Name: "external_id", Type: field.TypeString, Unique: true, Nullable: true, Size: 50, Collation: "utf8mb4_bin"},
		{Name: "email", Type: field.TypeString, Unique: true, Size: 200, Collation: "utf8mb4_bin"},
		{Name: "email_verified", Type: field.TypeBool, Default: true},
		{Name: "name", Type: field.TypeString, Size: 200, Default: ""},
		{Name: "username", Type: field.TypeString, Unique: true, Size: 100, Collation: "utf8mb4_bin"},
		{Name: "tagline", Type: field.TypeString, Size: 500, Default: ""},
		{Name: "picture", Type: field.TypeString, Size: 2048, Default: ""},
		{Name: "role", Type: field.TypeEnum, Enums: []string{"ADMIN", "MODERATOR", "MEMBER"}, Default: "MEMBER"},
		{Name: "status", Type: field.TypeEnum, Enums: []string{"ACTIVE", "SUSPENDED"}, Default: "ACTIVE"},
		{Name: "password_hash", Type: field.TypeString, Nullable: true},
		{Name: "last_login_at", Type: field.TypeTime, Nullable: true, SchemaType: map[string]string{"mysql": "datetime(6)"}},
	}
	// APITokensTable holds the schema information for the "api_tokens" table.
	APITokensTable := &schema.Table{
		Name:       "api_tokens",
		Columns:    APITokensColumns,
		PrimaryKey: []*schema.Column{APITokensColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "api_tokens_users_api_tokens",
				Columns:    []*schema.Column{APITokensColumns[6]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.Cascade,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "apitoken_user_id",
				Unique:  false,
				Columns: []*schema.Column{APITokensColumns[6]},
			},
		},
	}
	// EmailTokensTable holds the schema information for the "email_tokens" table.
	EmailTokensTable := &schema.Table{
		Name:       "email_tokens",
		Columns:    EmailTokensColumns,
		PrimaryKey: []*schema.Column{EmailTokensColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "email_tokens_users_user",
				Columns:    []*schema.Column{EmailTokensColumns[8]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.Cascade,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "emailtoken_user_id_purpose",
				Unique:  false,
				Columns: []*schema.Column{EmailTokensColumns[8], EmailTokensColumns[2]},
			},
			{
				Name:    "emailtoken_email_purpose_created_at",
				Unique:  false,
				Columns: []*schema.Column{EmailTokensColumns[4], EmailTokensColumns[2], EmailTokensColumns[1]},
			},
			{
				Name:    "emailtoken_ip_purpose_created_at",
				Unique:  false,
				Columns: []*schema.Column{EmailTokensColumns[5], EmailTokensColumns[2], EmailTokensColumns[1]},
			},
			{
				Name:    "emailtoken_expires_at",
				Unique:  false,
				Columns: []*schema.Column{EmailTokensColumns[6]},
			},
		},
	}
	// LoginThrottlesTable holds the schema information for the "login_throttles" table.
	LoginThrottlesTable := &schema.Table{
		Name:       "login_throttles",
		Columns:    LoginThrottlesColumns,
		PrimaryKey: []*schema.Column{LoginThrottlesColumns[0]},
		Indexes: []*schema.Index{
			{
				Name:    "loginthrottle_expires_at",
				Unique:  false,
				Columns: []*schema.Column{LoginThrottlesColumns[7]},
			},
		},
	}
	// ProfileFieldsTable holds the schema information for the "profile_fields" table.
	ProfileFieldsTable := &schema.Table{
		Name:       "profile_fields",
		Columns:    ProfileFieldsColumns,
		PrimaryKey: []*schema.Column{ProfileFieldsColumns[0]},
	}
	// ProfileFieldValuesTable holds the schema information for the "profile_field_values" table.
	ProfileFieldValuesTable := &schema.Table{
		Name:       "profile_field_values",
		Columns:    ProfileFieldValuesColumns,
		PrimaryKey: []*schema.Column{ProfileFieldValuesColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "profile_field_values_profile_fields_values",
				Columns:    []*schema.Column{ProfileFieldValuesColumns[5]},
				RefColumns: []*schema.Column{ProfileFieldsColumns[0]},
				OnDelete:   schema.Cascade,
			},
			{
				Symbol:     "profile_field_values_users_fields",
				Columns:    []*schema.Column{ProfileFieldValuesColumns[6]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.Cascade,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "profilefieldvalue_user_id_field_id",
				Unique:  true,
				Columns: []*schema.Column{ProfileFieldValuesColumns[6], ProfileFieldValuesColumns[5]},
			},
			{
				Name:    "profilefieldvalue_field_id",
				Unique:  false,
				Columns: []*schema.Column{ProfileFieldValuesColumns[5]},
			},
		},
	}
	// ReplayMarkersTable holds the schema information for the "replay_markers" table.
	ReplayMarkersTable := &schema.Table{
		Name:       "replay_markers",
		Columns:    ReplayMarkersColumns,
		PrimaryKey: []*schema.Column{ReplayMarkersColumns[0]},
		Indexes: []*schema.Index{
			{
				Name:    "replaymarker_expires_at",
				Unique:  false,
				Columns: []*schema.Column{ReplayMarkersColumns[3]},
			},
		},
	}
	// SecurityEventsTable holds the schema information for the "security_events" table.
	SecurityEventsTable := &schema.Table{
		Name:       "security_events",
		Columns:    SecurityEventsColumns,
		PrimaryKey: []*schema.Column{SecurityEventsColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "security_events_users_security_events",
				Columns:    []*schema.Column{SecurityEventsColumns[8]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.SetNull,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "securityevent_created_at",
				Unique:  false,
				Columns: []*schema.Column{SecurityEventsColumns[1]},
			},
			{
				Name:    "securityevent_type_created_at",
				Unique:  false,
				Columns: []*schema.Column{SecurityEventsColumns[2], SecurityEventsColumns[1]},
			},
			{
				Name:    "securityevent_user_id_created_at",
				Unique:  false,
				Columns: []*schema.Column{SecurityEventsColumns[8], SecurityEventsColumns[1]},
			},
		},
	}
	// SessionsTable holds the schema information for the "sessions" table.
	SessionsTable := &schema.Table{
		Name:       "sessions",
		Columns:    SessionsColumns,
		PrimaryKey: []*schema.Column{SessionsColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "sessions_users_sessions",
				Columns:    []*schema.Column{SessionsColumns[11]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.Cascade,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "session_expires_at",
				Unique:  false,
				Columns: []*schema.Column{SessionsColumns[4]},
			},
			{
				Name:    "session_user_id",
				Unique:  false,
				Columns: []*schema.Column{SessionsColumns[11]},
			},
		},
	}
	// SettingsTable holds the schema information for the "settings" table.
	SettingsTable := &schema.Table{
		Name:       "settings",
		Columns:    SettingsColumns,
		PrimaryKey: []*schema.Column{SettingsColumns[0]},
	}
	// SpacesTable holds the schema information for the "spaces" table.
	SpacesTable := &schema.Table{
		Name:       "spaces",
		Columns:    SpacesColumns,
		PrimaryKey: []*schema.Column{SpacesColumns[0]},
	}
	// SpaceMembershipsTable holds the schema information for the "space_memberships" table.
	SpaceMembershipsTable := &schema.Table{
		Name:       "space_memberships",
		Columns:    SpaceMembershipsColumns,
		PrimaryKey: []*schema.Column{SpaceMembershipsColumns[0]},
		ForeignKeys: []*schema.ForeignKey{
			{
				Symbol:     "space_memberships_spaces_members",
				Columns:    []*schema.Column{SpaceMembershipsColumns[3]},
				RefColumns: []*schema.Column{SpacesColumns[0]},
				OnDelete:   schema.Cascade,
			},
			{
				Symbol:     "space_memberships_users_spaces",
				Columns:    []*schema.Column{SpaceMembershipsColumns[4]},
				RefColumns: []*schema.Column{UsersColumns[0]},
				OnDelete:   schema.Cascade,
			},
		},
		Indexes: []*schema.Index{
			{
				Name:    "spacemembership_user_id_space_id",
				Unique:  true,
				Columns: []*schema.Column{SpaceMembershipsColumns[4], SpaceMembershipsColumns[3]},
			},
			{
				Name:    "spacemembership_space_id",
				Unique:  false,
				Columns: []*schema.Column{SpaceMembershipsColumns[3]},
			},
		},
	}
	// UsersTable holds the schema information for the "users" table.
	UsersTable := &schema.Table{
		Name:       "users",
		Columns:    UsersColumns,
		PrimaryKey: []*schema.Column{UsersColumns[0]},
		Indexes: []*schema.Index{
			{
				Name:    "user_role_status",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[10], UsersColumns[11]},
			},
			{
				Name:    "user_status",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[11]},
			},
			{
				Name:    "user_name",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[6]},
			},
			{
				Name:    "user_last_login_at",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[13]},
			},
			{
				Name:    "user_created_at",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[1]},
			},
			{
				Name:    "user_updated_at",
				Unique:  false,
				Columns: []*schema.Column{UsersColumns[2]},
			},
		},
	}
	APITokensTable.ForeignKeys[0].RefTable = UsersTable
	APITokensTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(0),
	}
	EmailTokensTable.ForeignKeys[0].RefTable = UsersTable
	EmailTokensTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(47244640256),
	}
	LoginThrottlesTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(42949672960),
	}
	ProfileFieldsTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(4294967296),
	}
	ProfileFieldValuesTable.ForeignKeys[0].RefTable = ProfileFieldsTable
	ProfileFieldValuesTable.ForeignKeys[1].RefTable = UsersTable
	ProfileFieldValuesTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(8589934592),
	}
	ReplayMarkersTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(12884901888),
	}
	SecurityEventsTable.ForeignKeys[0].RefTable = UsersTable
	SecurityEventsTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(17179869184),
	}
	SessionsTable.ForeignKeys[0].RefTable = UsersTable
	SessionsTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(21474836480),
	}
	SettingsTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(25769803776),
	}
	SpacesTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(30064771072),
	}
	SpaceMembershipsTable.ForeignKeys[0].RefTable = SpacesTable
	SpaceMembershipsTable.ForeignKeys[1].RefTable = UsersTable
	SpaceMembershipsTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(34359738368),
	}
	UsersTable.Annotation = &entsql.Annotation{
		IncrementStart: func(i int) *int { return &i }(38654705664),
	}
	tables := []*schema.Table{
		APITokensTable,
		EmailTokensTable,
		LoginThrottlesTable,
		ProfileFieldsTable,
		ProfileFieldValuesTable,
		ReplayMarkersTable,
		SecurityEventsTable,
		SessionsTable,
		SettingsTable,
		SpacesTable,
		SpaceMembershipsTable,
		UsersTable,
	}
	return tables
}
