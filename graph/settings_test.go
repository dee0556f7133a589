package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		const secret = "super-secret-client-value"
		q := `mutation($in: UpdateOAuth2SettingsInput!) { updateOAuth2Settings(input: $in) { oauth2 { enabled provider clientId hasClientSecret domain scopes callbackUrl } } }`

		for _, tt := range []struct {
			in    map[string]any
			code  string
			field string
		}{
			{map[string]any{"enabled": true, "provider": "CUSTOM", "clientId": "abc", "clientSecret": secret, "authorizationUrl": "https://idp.example.com/authorize"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"enabled": true, "provider": "OKTA", "domain": "dev-1.okta.com"}, "BAD_USER_INPUT", "clientId"},
			{map[string]any{"tokenUrl": "http://idp.example.com/token"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"domain": "http://dev-1.okta.com"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"domain": "https://dev-1.okta.com/?x=1"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"scopes": []string{"openid email"}}, "BAD_USER_INPUT", "scopes"},
			{map[string]any{"refreshMinutes": -1}, "BAD_USER_INPUT", "refreshMinutes"},
		} {
			before := storetest.Snapshot(t, db)
			r := app.GQL(c.Admin, "", q, map[string]any{"in": tt.in})
			if r.Code() != tt.code || r.Field() != tt.field {
				t.Errorf("%v: %s", tt.in, r.Raw)
			}
			if storetest.Snapshot(t, db) != before {
				t.Errorf("%v changed data", tt.in)
			}
		}
		r := app.GQL(c.Admin, "", q, map[string]any{"in": map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret, "domain": "dev-1.okta.com/oauth2/default", "scopes": []string{"openid", "email"}}})
		o := graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2")
		if r.Code() != "" || graphtest.Dig(o, "hasClientSecret") != true || graphtest.Dig(o, "domain") != "dev-1.okta.com/oauth2/default" || graphtest.Dig(o, "callbackUrl") != app.URL+"/auth/oauth2/callback" {
			t.Fatalf("%s", r.Raw)
		}
		if strings.Contains(r.Raw, secret) {
			t.Fatal("the secret came back")
		}
		st := app.Settings()
		if len(st.Oauth2ClientSecret) == 0 || strings.Contains(string(st.Oauth2ClientSecret), secret) {
			t.Fatal("the client secret is not sealed at rest")
		}
		ev := db.Client.SecurityEvent.Query().Where(securityevent.Type("SETTINGS_CHANGED")).OnlyX(ctx)
		b, _ := json.Marshal(ev.Detail)
		if !strings.Contains(string(b), "clientSecret") || strings.Contains(string(b), secret) {
			t.Fatalf("event detail %s", b)
		}
		// An empty string clears a URL; absent fields stay.
		r = app.GQL(c.Admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: "https://idp.example.com/logout"}) { oauth2 { logoutUrl clientId } } }`, nil)
		r = app.GQL(c.Admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: ""}) { oauth2 { logoutUrl clientId } } }`, nil)
		if graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2", "logoutUrl") != "" || graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2", "clientId") != "abc" {
			t.Fatalf("%s", r.Raw)
		}

		jq := `mutation($in: UpdateJwtSsoSettingsInput!) { updateJwtSsoSettings(input: $in) { jwtSso { enabled hasSecret authorizationUrl endpointUrl } } }`
		if r := app.GQL(c.Admin, "", jq, map[string]any{"in": map[string]any{"enabled": true}}); r.Code() != "BAD_USER_INPUT" || r.Field() != "enabled" {
			t.Fatalf("enable without secret: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation { regenerateJwtSsoSecret }`, nil)
		jwtSecret, _ := r.Data["regenerateJwtSsoSecret"].(string)
		if len(jwtSecret) != 64 {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", jq, map[string]any{"in": map[string]any{"enabled": true, "authorizationUrl": "https://customer.example/sso"}})
		if graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "hasSecret") != true || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "endpointUrl") != app.URL+"/api/auth/sso" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `{ authSettings { emailPasswordEnabled oauth2 { hasClientSecret } jwtSso { hasSecret enabled } } }`, nil)
		if strings.Contains(r.Raw, jwtSecret) || graphtest.Dig(r.Data, "authSettings", "jwtSso", "enabled") != true {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "https://evil.example"}) { newUsersHomepage } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "/welcome"}) { newUsersHomepage } }`, nil); graphtest.Dig(r.Data, "updateAuthSettings", "newUsersHomepage") != "/welcome" {
			t.Fatalf("%s", r.Raw)
		}
		for _, who := range []*http.Client{c.Member, c.Moderator} {
			if r := app.GQL(who, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
			if r := app.GQL(who, "", `mutation { regenerateJwtSsoSecret }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
		}
		if r := app.GQL(nil, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("%s", r.Raw)
		}
		// loginOptions is public.
		r = app.GQL(nil, "", `{ loginOptions { methods emailPasswordEnabled oauth2 { buttonText loginUrl } jwtSso { loginUrl } loginUrl logoutUrl } }`, nil)
		if r.Code() != "" || len(graphtest.Dig(r.Data, "loginOptions", "methods").([]any)) != 3 || graphtest.Dig(r.Data, "loginOptions", "jwtSso", "loginUrl") != "https://customer.example/sso" {
			t.Fatalf("%s", r.Raw)
		}
	})
}
