package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/profile"
	"github.com/community/sso/auth/redirect"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/graph/model"
)

// authSettings shows the settings to an admin: every secret only as whether it is set.
func (r *Resolver) authSettings(st *ent.Settings) *model.AuthSettings {
	scopes := st.Oauth2Scopes
	if scopes == nil {
		scopes = []string{}
	}
	embed := st.EmbedOrigins
	if embed == nil {
		embed = []string{}
	}
	publicKeys := st.JwtPublicKeys
	if publicKeys == nil {
		publicKeys = []string{}
	}
	return &model.AuthSettings{
		EmbedOrigins:         embed,
		EmailPasswordEnabled: st.EmailPasswordEnabled,
		NewUsersHomepage:     st.NewUsersHomepage,
		SyncUsername:         st.SyncUsername,
		Oauth2: &model.OAuth2Settings{
			Enabled:              st.Oauth2Enabled,
			Provider:             st.Oauth2Provider,
			ClientID:             st.Oauth2ClientID,
			HasClientSecret:      len(st.Oauth2ClientSecret) > 0,
			Domain:               st.Oauth2Domain,
			AuthorizationURL:     st.Oauth2AuthorizationURL,
			TokenURL:             st.Oauth2TokenURL,
			UserInfoURL:          st.Oauth2UserInfoURL,
			Issuer:               st.Oauth2Issuer,
			Scopes:               scopes,
			AccountSettingsURL:   st.Oauth2AccountSettingsURL,
			LogoutURL:            st.Oauth2LogoutURL,
			LoginButtonText:      st.Oauth2LoginButtonText,
			AdminClaim:           st.Oauth2AdminClaim,
			AdminClaimValue:      st.Oauth2AdminClaimValue,
			ModeratorClaim:       st.Oauth2ModeratorClaim,
			ModeratorClaimValue:  st.Oauth2ModeratorClaimValue,
			RefreshMinutes:       st.Oauth2RefreshMinutes,
			CallbackURL:          r.PublicURL + oauth2sso.CallbackPath,
			BackchannelLogoutURL: r.PublicURL + oauth2sso.BackchannelLogoutPath,
		},
		JwtSso: &model.JwtSsoSettings{
			Enabled:                 st.JwtEnabled,
			HasSecret:               len(st.JwtSecret) > 0,
			SecretRotatedAt:         st.JwtSecretRotatedAt,
			PreviousSecretExpiresAt: jwtsso.PreviousSecretExpiry(st, r.now()),
			LoginButtonText:         st.JwtLoginButtonText,
			AuthorizationURL:        st.JwtAuthorizationURL,
			SignUpURL:               st.JwtSignUpURL,
			LogoutURL:               st.JwtLogoutURL,
			AccountSettingsURL:      st.JwtAccountSettingsURL,
			MaxTokenAgeSeconds:      st.JwtMaxTokenAgeSeconds,
			RequireJti:              st.JwtRequireJti,
			PublicKeys:              publicKeys,
			JwksURL:                 st.JwtJwksURL,
			Issuer:                  st.JwtIssuer,
			Audience:                st.JwtAudience,
			AdminClaim:              st.JwtAdminClaim,
			AdminClaimValue:         st.JwtAdminClaimValue,
			ModeratorClaim:          st.JwtModeratorClaim,
			ModeratorClaimValue:     st.JwtModeratorClaimValue,
			EndpointURL:             r.PublicURL + "/api/auth/sso",
		},
	}
}

// loginOptions is what any visitor may know about signing in.
func (r *Resolver) loginOptions(ctx context.Context) (*model.LoginOptions, error) {
	st, err := auth.LoadSettings(ctx, r.Client)
	if err != nil {
		return nil, err
	}
	o := &model.LoginOptions{
		Methods:              []model.LoginMethod{},
		EmailPasswordEnabled: st.EmailPasswordEnabled,
		LoginURL:             r.PublicURL + "/auth/login",
		LogoutURL:            r.PublicURL + "/auth/logout",
	}
	if st.EmailPasswordEnabled {
		o.Methods = append(o.Methods, model.LoginMethodEmailPassword)
	}
	if st.Oauth2Enabled {
		o.Methods = append(o.Methods, model.LoginMethodOauth2)
		o.Oauth2 = &model.LoginMethodOption{
			ButtonText:         nonEmpty(st.Oauth2LoginButtonText, "Sign in with single sign-on"),
			LoginURL:           r.PublicURL + "/auth/oauth2/login",
			AccountSettingsURL: optional(st.Oauth2AccountSettingsURL),
			LogoutURL:          optional(st.Oauth2LogoutURL),
		}
	}
	if st.JwtEnabled {
		o.Methods = append(o.Methods, model.LoginMethodJwt)
		o.JwtSso = &model.LoginMethodOption{
			ButtonText:         nonEmpty(st.JwtLoginButtonText, "Sign in"),
			LoginURL:           nonEmpty(st.JwtAuthorizationURL, r.PublicURL+"/auth/login"),
			SignUpURL:          optional(st.JwtSignUpURL),
			AccountSettingsURL: optional(st.JwtAccountSettingsURL),
			LogoutURL:          optional(st.JwtLogoutURL),
		}
		o.SignUpURL = optional(st.JwtSignUpURL)
	}
	o.AccountSettingsURL = optional(accountSettingsURL(st))
	return o, nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// settingsChange collects validated changes to the settings row and the names of the fields
// that changed (for the security log; never their values).
type settingsChange struct {
	upd     *ent.SettingsUpdateOne
	changed []string
}

func (c *settingsChange) str(field string, in *string, cur string, validate func(string) error, set func(string)) error {
	if in == nil {
		return nil
	}
	v := strings.TrimSpace(*in)
	if v != "" && validate != nil {
		if err := validate(v); err != nil {
			return BadInput(field, "%s: %s", field, strings.TrimPrefix(err.Error(), profile.ErrInvalid.Error()+": "))
		}
	}
	if v != cur {
		set(v)
		c.changed = append(c.changed, field)
	}
	return nil
}

func (c *settingsChange) boolean(field string, in *bool, cur bool, set func(bool)) {
	if in != nil && *in != cur {
		set(*in)
		c.changed = append(c.changed, field)
	}
}

func maxLen(n int) func(string) error {
	return func(s string) error {
		if len(s) > n {
			return BadInput("", "must be at most %d characters", n)
		}
		return nil
	}
}

// saveSettings writes a change and records it; it returns the settings as they are now.
func (r *Resolver) saveSettings(ctx context.Context, client *ent.Client, c *settingsChange, section string) (*model.AuthSettings, error) {
	st, err := c.upd.Save(ctx)
	if errors.Is(err, store.ErrLastSignIn) { // the last sign-in method, turned off (the store's hook)
		return nil, BadInput("enabled", "%s", lastAdminMessage(err))
	}
	if err != nil {
		return nil, err
	}
	if len(c.changed) > 0 {
		e := auth.EventFor(ctx, auth.EventSettingsChanged)
		e.Detail = map[string]any{"section": section, "fields": c.changed}
		if err := auth.Record(ctx, client, e); err != nil {
			return nil, err
		}
	}
	return r.authSettings(st), nil
}

func (r *Resolver) updateAuthSettings(ctx context.Context, in model.UpdateAuthSettingsInput) (*model.AuthSettings, error) {
	client := ent.FromContext(ctx)
	st, err := auth.LoadSettings(ctx, client)
	if err != nil {
		return nil, err
	}
	c := &settingsChange{upd: st.Update()}
	c.boolean("emailPasswordEnabled", in.EmailPasswordEnabled, st.EmailPasswordEnabled, func(v bool) { c.upd.SetEmailPasswordEnabled(v) })
	c.boolean("syncUsername", in.SyncUsername, st.SyncUsername, func(v bool) { c.upd.SetSyncUsername(v) })
	if err := c.str("newUsersHomepage", in.NewUsersHomepage, st.NewUsersHomepage, func(s string) error {
		if _, ok := redirect.Safe(s); !ok {
			return BadInput("newUsersHomepage", "must be a path on this site, such as /welcome")
		}
		return nil
	}, func(v string) { c.upd.SetNewUsersHomepage(v) }); err != nil {
		return nil, err
	}
	if in.EmbedOrigins != nil {
		origins, err := auth.NormalizeEmbedOrigins(in.EmbedOrigins, r.PublicURL)
		if err != nil {
			return nil, BadInput("embedOrigins", "embedOrigins: %s", strings.TrimPrefix(err.Error(), "auth: "))
		}
		if !slices.Equal(origins, st.EmbedOrigins) {
			c.upd.SetEmbedOrigins(origins)
			c.changed = append(c.changed, "embedOrigins")
		}
	}
	return r.saveSettings(ctx, client, c, "auth")
}

func (r *Resolver) updateOAuth2Settings(ctx context.Context, in model.UpdateOAuth2SettingsInput) (*model.AuthSettings, error) {
	client := ent.FromContext(ctx)
	st, err := auth.LoadSettings(ctx, client)
	if err != nil {
		return nil, err
	}
	c := &settingsChange{upd: st.Update()}
	if in.Domain != nil {
		d, err := oauth2sso.NormalizeDomain(*in.Domain)
		if err != nil {
			return nil, BadInput("domain", "domain: %s", strings.TrimPrefix(err.Error(), "oauth2sso: "))
		}
		in.Domain = &d
	}
	next := *st // the settings as they will be, to check what enabling needs
	urlField := func(field string, in *string, cur string, dst *string, set func(string)) error {
		return c.str(field, in, cur, profile.SettingsURL, func(v string) { *dst = v; set(v) })
	}
	textField := func(field string, in *string, cur string, n int, dst *string, set func(string)) error {
		return c.str(field, in, cur, maxLen(n), func(v string) { *dst = v; set(v) })
	}
	c.boolean("enabled", in.Enabled, st.Oauth2Enabled, func(v bool) { next.Oauth2Enabled = v; c.upd.SetOauth2Enabled(v) })
	if in.Provider != nil && *in.Provider != st.Oauth2Provider {
		next.Oauth2Provider = *in.Provider
		c.upd.SetOauth2Provider(*in.Provider)
		c.changed = append(c.changed, "provider")
	}
	steps := []error{
		textField("clientId", in.ClientID, st.Oauth2ClientID, 500, &next.Oauth2ClientID, func(v string) { c.upd.SetOauth2ClientID(v) }),
		c.str("domain", in.Domain, st.Oauth2Domain, validDomain, func(v string) { next.Oauth2Domain = v; c.upd.SetOauth2Domain(v) }),
		urlField("authorizationUrl", in.AuthorizationURL, st.Oauth2AuthorizationURL, &next.Oauth2AuthorizationURL, func(v string) { c.upd.SetOauth2AuthorizationURL(v) }),
		urlField("tokenUrl", in.TokenURL, st.Oauth2TokenURL, &next.Oauth2TokenURL, func(v string) { c.upd.SetOauth2TokenURL(v) }),
		urlField("userInfoUrl", in.UserInfoURL, st.Oauth2UserInfoURL, &next.Oauth2UserInfoURL, func(v string) { c.upd.SetOauth2UserInfoURL(v) }),
		urlField("issuer", in.Issuer, st.Oauth2Issuer, &next.Oauth2Issuer, func(v string) { c.upd.SetOauth2Issuer(v) }),
		urlField("accountSettingsUrl", in.AccountSettingsURL, st.Oauth2AccountSettingsURL, &next.Oauth2AccountSettingsURL, func(v string) { c.upd.SetOauth2AccountSettingsURL(v) }),
		urlField("logoutUrl", in.LogoutURL, st.Oauth2LogoutURL, &next.Oauth2LogoutURL, func(v string) { c.upd.SetOauth2LogoutURL(v) }),
		textField("loginButtonText", in.LoginButtonText, st.Oauth2LoginButtonText, 200, &next.Oauth2LoginButtonText, func(v string) { c.upd.SetOauth2LoginButtonText(v) }),
		textField("adminClaim", in.AdminClaim, st.Oauth2AdminClaim, 200, &next.Oauth2AdminClaim, func(v string) { c.upd.SetOauth2AdminClaim(v) }),
		textField("adminClaimValue", in.AdminClaimValue, st.Oauth2AdminClaimValue, 500, &next.Oauth2AdminClaimValue, func(v string) { c.upd.SetOauth2AdminClaimValue(v) }),
		textField("moderatorClaim", in.ModeratorClaim, st.Oauth2ModeratorClaim, 200, &next.Oauth2ModeratorClaim, func(v string) { c.upd.SetOauth2ModeratorClaim(v) }),
		textField("moderatorClaimValue", in.ModeratorClaimValue, st.Oauth2ModeratorClaimValue, 500, &next.Oauth2ModeratorClaimValue, func(v string) { c.upd.SetOauth2ModeratorClaimValue(v) }),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	if in.ClientSecret != nil {
		secret := strings.TrimSpace(*in.ClientSecret)
		switch {
		case len(secret) > 1000:
			return nil, BadInput("clientSecret", "clientSecret must be at most 1000 characters")
		case secret == "":
			next.Oauth2ClientSecret = nil
			c.upd.ClearOauth2ClientSecret()
		default:
			next.Oauth2ClientSecret = r.Sealer.Seal(oauth2sso.PurposeClientSecret, []byte(secret))
			c.upd.SetOauth2ClientSecret(next.Oauth2ClientSecret)
		}
		c.changed = append(c.changed, "clientSecret")
	}
	if in.Scopes != nil {
		for _, s := range in.Scopes {
			if s == "" || len(s) > 200 || strings.ContainsAny(s, " \t\r\n\"") {
				return nil, BadInput("scopes", "scope %q must be 1 to 200 characters without spaces or quotes", s)
			}
		}
		next.Oauth2Scopes = in.Scopes
		c.upd.SetOauth2Scopes(in.Scopes)
		c.changed = append(c.changed, "scopes")
	}
	if in.RefreshMinutes != nil {
		if *in.RefreshMinutes < 0 || *in.RefreshMinutes > 7*24*60 {
			return nil, BadInput("refreshMinutes", "refreshMinutes must be 0 (off) to %d", 7*24*60)
		}
		if *in.RefreshMinutes != st.Oauth2RefreshMinutes {
			c.upd.SetOauth2RefreshMinutes(*in.RefreshMinutes)
			c.changed = append(c.changed, "refreshMinutes")
		}
	}
	if next.Oauth2Enabled {
		if err := oauth2Complete(&next); err != nil {
			return nil, err
		}
	}
	return r.saveSettings(ctx, client, c, "oauth2")
}

// oauth2Complete checks that OAuth2 settings have what their provider needs to work.
func oauth2Complete(st *ent.Settings) error {
	if st.Oauth2ClientID == "" {
		return BadInput("clientId", "clientId is required to enable OAuth2")
	}
	if len(st.Oauth2ClientSecret) == 0 {
		return BadInput("clientSecret", "clientSecret is required to enable OAuth2")
	}
	if st.Oauth2Provider == settings.Oauth2ProviderCUSTOM {
		// With an OpenID Connect issuer, discovery supplies the URLs left empty.
		if st.Oauth2AuthorizationURL == "" && st.Oauth2Issuer == "" {
			return BadInput("authorizationUrl", "authorizationUrl is required for a CUSTOM provider without an issuer")
		}
		if st.Oauth2TokenURL == "" && st.Oauth2Issuer == "" {
			return BadInput("tokenUrl", "tokenUrl is required for a CUSTOM provider without an issuer")
		}
		if st.Oauth2UserInfoURL == "" && st.Oauth2Issuer == "" {
			return BadInput("userInfoUrl", "a CUSTOM provider needs a userInfoUrl or an OpenID Connect issuer")
		}
		return nil
	}
	if st.Oauth2Domain == "" {
		return BadInput("domain", "domain is required for %s", st.Oauth2Provider)
	}
	return nil
}

// validDomain checks a provider domain, as oauth2sso.NormalizeDomain leaves it, such as
// dev-123.okta.com or dev-1.okta.com/oauth2/default: a host with an optional path, no scheme.
func validDomain(s string) error {
	if len(s) > 500 || strings.Contains(s, "://") || strings.ContainsAny(s, " \t\r\n?#@\\") || strings.HasPrefix(s, "/") {
		return BadInput("domain", "give the host name, such as dev-123.okta.com, with an optional path")
	}
	return profile.SettingsURL("https://" + s)
}

func (r *Resolver) updateJwtSsoSettings(ctx context.Context, in model.UpdateJwtSsoSettingsInput) (*model.AuthSettings, error) {
	client := ent.FromContext(ctx)
	st, err := auth.LoadSettings(ctx, client)
	if err != nil {
		return nil, err
	}
	c := &settingsChange{upd: st.Update()}
	enabled := st.JwtEnabled
	c.boolean("enabled", in.Enabled, st.JwtEnabled, func(v bool) { enabled = v; c.upd.SetJwtEnabled(v) })
	steps := []error{
		c.str("loginButtonText", in.LoginButtonText, st.JwtLoginButtonText, maxLen(200), func(v string) { c.upd.SetJwtLoginButtonText(v) }),
		c.str("authorizationUrl", in.AuthorizationURL, st.JwtAuthorizationURL, profile.SettingsURL, func(v string) { c.upd.SetJwtAuthorizationURL(v) }),
		c.str("signUpUrl", in.SignUpURL, st.JwtSignUpURL, profile.SettingsURL, func(v string) { c.upd.SetJwtSignUpURL(v) }),
		c.str("logoutUrl", in.LogoutURL, st.JwtLogoutURL, profile.SettingsURL, func(v string) { c.upd.SetJwtLogoutURL(v) }),
		c.str("accountSettingsUrl", in.AccountSettingsURL, st.JwtAccountSettingsURL, profile.SettingsURL, func(v string) { c.upd.SetJwtAccountSettingsURL(v) }),
		c.str("issuer", in.Issuer, st.JwtIssuer, maxLen(2048), func(v string) { c.upd.SetJwtIssuer(v) }),
		c.str("audience", in.Audience, st.JwtAudience, maxLen(2048), func(v string) { c.upd.SetJwtAudience(v) }),
		c.str("adminClaim", in.AdminClaim, st.JwtAdminClaim, maxLen(200), func(v string) { c.upd.SetJwtAdminClaim(v) }),
		c.str("adminClaimValue", in.AdminClaimValue, st.JwtAdminClaimValue, maxLen(500), func(v string) { c.upd.SetJwtAdminClaimValue(v) }),
		c.str("moderatorClaim", in.ModeratorClaim, st.JwtModeratorClaim, maxLen(200), func(v string) { c.upd.SetJwtModeratorClaim(v) }),
		c.str("moderatorClaimValue", in.ModeratorClaimValue, st.JwtModeratorClaimValue, maxLen(500), func(v string) { c.upd.SetJwtModeratorClaimValue(v) }),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	if in.MaxTokenAgeSeconds != nil {
		if *in.MaxTokenAgeSeconds < 10 || *in.MaxTokenAgeSeconds > 3600 {
			return nil, BadInput("maxTokenAgeSeconds", "maxTokenAgeSeconds must be 10 to 3600")
		}
		if *in.MaxTokenAgeSeconds != st.JwtMaxTokenAgeSeconds {
			c.upd.SetJwtMaxTokenAgeSeconds(*in.MaxTokenAgeSeconds)
			c.changed = append(c.changed, "maxTokenAgeSeconds")
		}
	}
	c.boolean("requireJti", in.RequireJti, st.JwtRequireJti, func(v bool) { c.upd.SetJwtRequireJti(v) })
	jwksURL := st.JwtJwksURL
	if err := c.str("jwksUrl", in.JwksURL, st.JwtJwksURL, profile.SettingsURL, func(v string) { jwksURL = v; c.upd.SetJwtJwksURL(v) }); err != nil {
		return nil, err
	}
	publicKeys := st.JwtPublicKeys
	if in.PublicKeys != nil {
		if len(in.PublicKeys) > jwtsso.MaxPublicKeys {
			return nil, BadInput("publicKeys", "publicKeys: at most %d keys", jwtsso.MaxPublicKeys)
		}
		keys := make([]string, len(in.PublicKeys))
		for i, k := range in.PublicKeys {
			if _, _, err := jwtsso.ParsePublicKey(k); err != nil {
				return nil, BadInput("publicKeys", "publicKeys[%d]: %s", i, strings.TrimPrefix(err.Error(), jwtsso.ErrPublicKey.Error()+": "))
			}
			keys[i] = strings.TrimSpace(k)
		}
		if !slices.Equal(keys, st.JwtPublicKeys) {
			publicKeys = keys
			c.upd.SetJwtPublicKeys(keys)
			c.changed = append(c.changed, "publicKeys")
		}
	}
	if enabled && len(st.JwtSecret) == 0 && len(publicKeys) == 0 && jwksURL == "" {
		return nil, BadInput("enabled", "generate a secret with regenerateJwtSsoSecret, or give publicKeys or a jwksUrl, before enabling JWT SSO")
	}
	return r.saveSettings(ctx, client, c, "jwtSso")
}

// regenerateJwtSsoSecret makes a new 256-bit secret, stores it sealed and returns it once. With
// graceSeconds above 0 the secret it replaces stays valid that long (jwtsso.MaxGrace at most).
func (r *Resolver) regenerateJwtSsoSecret(ctx context.Context, graceSeconds *int) (string, error) {
	grace := 0
	if graceSeconds != nil {
		grace = *graceSeconds
	}
	if grace < 0 || time.Duration(grace)*time.Second > jwtsso.MaxGrace {
		return "", BadInput("graceSeconds", "graceSeconds must be 0 to %d (7 days)", int(jwtsso.MaxGrace/time.Second))
	}
	client := ent.FromContext(ctx)
	st, err := auth.LoadSettings(ctx, client)
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b)
	now := r.now()
	upd := st.Update().SetJwtSecret(r.Sealer.Seal(jwtsso.PurposeSecret, []byte(secret))).SetJwtSecretRotatedAt(now)
	changed := []string{"secret"}
	if grace > 0 && len(st.JwtSecret) > 0 {
		// The previous secret stays sealed as it was: the same purpose, the same key.
		upd.SetJwtPreviousSecret(st.JwtSecret).SetJwtPreviousSecretExpiresAt(now.Add(time.Duration(grace) * time.Second))
		changed = append(changed, "previousSecretExpiresAt")
	} else {
		if len(st.JwtPreviousSecret) > 0 || st.JwtPreviousSecretExpiresAt != nil {
			changed = append(changed, "previousSecretExpiresAt")
		}
		upd.ClearJwtPreviousSecret().ClearJwtPreviousSecretExpiresAt()
	}
	c := &settingsChange{upd: upd, changed: changed}
	if _, err := r.saveSettings(ctx, client, c, "jwtSso"); err != nil {
		return "", err
	}
	return secret, nil
}
