package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Settings holds the community's authentication settings: one row per deployment.
// Secrets are stored sealed (AES-256-GCM under SECRET_KEY) and never leave the server.
type Settings struct {
	ent.Schema
}

// Fields of the Settings.
func (Settings) Fields() []ent.Field {
	return []ent.Field{
		field.Bool("email_password_enabled").Default(true),
		field.Text("new_users_homepage").Default("").Validate(maxLen(2048)),
		field.Bool("sync_username").Default(false).
			Comment("SSO logins rename a member whose username claim changed (off: a username is set once, at creation)."),
		field.Strings("embed_origins").Optional().
			Comment("Origins (scheme://host[:port], normalized) whose pages may frame the community; empty: none."),

		field.Bool("oauth2_enabled").Default(false),
		field.Enum("oauth2_provider").
			Values("OKTA", "AUTH0", "WORDPRESS", "OUTSETA", "MEMBERFUL", "CUSTOM").
			Default("CUSTOM"),
		field.String("oauth2_client_id").Default("").MaxLen(500),
		field.Bytes("oauth2_client_secret").Optional().Sensitive().
			Comment("Sealed."),
		field.String("oauth2_domain").Default("").MaxLen(500),
		field.Text("oauth2_authorization_url").Default("").Validate(maxLen(2048)),
		field.Text("oauth2_token_url").Default("").Validate(maxLen(2048)),
		field.Text("oauth2_user_info_url").Default("").Validate(maxLen(2048)),
		field.Text("oauth2_issuer").Default("").Validate(maxLen(2048)),
		field.Strings("oauth2_scopes").Optional(),
		field.Text("oauth2_account_settings_url").Default("").Validate(maxLen(2048)),
		field.Text("oauth2_logout_url").Default("").Validate(maxLen(2048)),
		field.String("oauth2_login_button_text").Default("").MaxLen(200),
		field.String("oauth2_admin_claim").Default("").MaxLen(200),
		field.String("oauth2_admin_claim_value").Default("").MaxLen(500),
		field.String("oauth2_moderator_claim").Default("").MaxLen(200),
		field.String("oauth2_moderator_claim_value").Default("").MaxLen(500),
		field.Int("oauth2_refresh_minutes").Default(0).NonNegative(),

		field.Bool("jwt_enabled").Default(false),
		field.Bytes("jwt_secret").Optional().Sensitive().
			Comment("Sealed."),
		field.Time("jwt_secret_rotated_at").SchemaType(datetime).Optional().Nillable().
			Comment("When regenerateJwtSsoSecret last made jwt_secret."),
		field.Bytes("jwt_previous_secret").Optional().Sensitive().
			Comment("Sealed like jwt_secret: the secret before the last rotation, valid until jwt_previous_secret_expires_at."),
		field.Time("jwt_previous_secret_expires_at").SchemaType(datetime).Optional().Nillable().
			Comment("The end of the rotation's grace period; null when the previous secret is no longer valid."),
		field.String("jwt_login_button_text").Default("").MaxLen(200),
		field.Text("jwt_authorization_url").Default("").Validate(maxLen(2048)),
		field.Text("jwt_sign_up_url").Default("").Validate(maxLen(2048)),
		field.Text("jwt_logout_url").Default("").Validate(maxLen(2048)),
		field.Text("jwt_account_settings_url").Default("").Validate(maxLen(2048)),
		field.Int("jwt_max_token_age_seconds").Default(300).Positive().
			Comment("Token policy: a token without exp must have an iat no older than this."),
		field.Bool("jwt_require_jti").Default(false).
			Comment("Token policy: refuse tokens without a jti (a jti, when present, is always single-use)."),
		field.Strings("jwt_public_keys").Optional().
			Comment("Public keys (PEM or JWK) that verify tokens beside or instead of jwt_secret; the key's type chooses the algorithm."),
		field.Text("jwt_jwks_url").Default("").Validate(maxLen(2048)).
			Comment("A JWKS URL whose keys verify tokens beside or instead of jwt_secret."),
		field.Text("jwt_issuer").Default("").Validate(maxLen(2048)).
			Comment("When set, a token's iss must equal it."),
		field.Text("jwt_audience").Default("").Validate(maxLen(2048)).
			Comment("When set, a token's aud must be or contain it."),
		field.String("jwt_admin_claim").Default("").MaxLen(200),
		field.String("jwt_admin_claim_value").Default("").MaxLen(500),
		field.String("jwt_moderator_claim").Default("").MaxLen(200),
		field.String("jwt_moderator_claim_value").Default("").MaxLen(500),

		field.Int("identifiers_version").Default(0).NonNegative().
			Comment("The identifier rules (package identity) the stored emails and ids were last brought to."),

		field.Bytes("key_check").Optional().Sensitive().
			Comment("A known value sealed under SECRET_KEY by the first start: a later start with another key is refused."),
	}
}

// Mixin of the Settings.
func (Settings) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Annotations of the Settings.
func (Settings) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}
