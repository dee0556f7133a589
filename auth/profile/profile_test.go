package profile

import (
	"errors"
	"strings"
	"testing"

	"github.com/community/sso/ent/profilefield"
)

func TestValue(t *testing.T) {
	opts := []string{"gold", "silver"}
	tests := []struct {
		typ     profilefield.Type
		in      string
		want    string
		wantErr bool
	}{
		{profilefield.TypeTEXT, "  Acme Inc ", "Acme Inc", false},
		{profilefield.TypeTEXT, strings.Repeat("a", MaxValueLength+1), "", true},
		{profilefield.TypeTEXT, "\xff", "", true},
		{profilefield.TypeNUMBER, "42", "42", false},
		{profilefield.TypeNUMBER, "4.50", "4.5", false},
		{profilefield.TypeNUMBER, "1e3", "1000", false},
		{profilefield.TypeNUMBER, "forty", "", true},
		{profilefield.TypeNUMBER, "NaN", "", true},
		{profilefield.TypeBOOLEAN, "Yes", "true", false},
		{profilefield.TypeBOOLEAN, "0", "false", false},
		{profilefield.TypeBOOLEAN, "maybe", "", true},
		{profilefield.TypeURL, "https://example.com/a", "https://example.com/a", false},
		{profilefield.TypeURL, "javascript:alert(1)", "", true},
		{profilefield.TypeURL, "//example.com", "", true},
		{profilefield.TypeEMAIL, "Ann@Example.COM", "ann@example.com", false},
		{profilefield.TypeEMAIL, "ann", "", true},
		{profilefield.TypeDATE, "2024-02-29", "2024-02-29", false},
		{profilefield.TypeDATE, "2024-02-30", "", true},
		{profilefield.TypeDATE, "2024-03-01T23:30:00-02:00", "2024-03-02", false},
		{profilefield.TypeSELECT, "gold", "gold", false},
		{profilefield.TypeSELECT, "bronze", "", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.in, func(t *testing.T) {
			got, err := Value(tt.typ, opts, tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Value = %q, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestSettingsURL(t *testing.T) {
	for in, ok := range map[string]bool{
		"https://dev-1.okta.com/oauth2/default": true,
		"http://localhost:9000/authorize":       true,
		"http://127.0.0.1:9000/token":           true,
		"http://[::1]:9000/token":               true,
		"http://idp.example.com/authorize":      false,
		"ftp://idp.example.com":                 false,
		"https://":                              false,
		"https://user:pw@idp.example.com":       false,
		"not a url":                             false,
	} {
		if err := SettingsURL(in); (err == nil) != ok {
			t.Errorf("SettingsURL(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestKeys(t *testing.T) {
	if err := Key("company_size"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "Company", "1st", "a-b", strings.Repeat("a", 65)} {
		if Key(bad) == nil {
			t.Errorf("Key(%q) accepted", bad)
		}
	}
	if err := ExternalKeys([]string{"company", "org", "custom.company"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{""}, {"a", "a"}, {"sub"}, {"email"}, {"exp"}, {strings.Repeat("k", 101)}} {
		if ExternalKeys(bad) == nil {
			t.Errorf("ExternalKeys(%q) accepted", bad)
		}
	}
}
