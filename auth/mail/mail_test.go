package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/mail/mailtest"
)

// TestSend sends through a real SMTP server in each TLS mode, with and without authentication.
func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mailtest.Options
	}{
		{"plain", mailtest.Options{TLS: mail.TLSNone}},
		{"plain with auth", mailtest.Options{TLS: mail.TLSNone, Username: "relay", Password: "s3cret-pass"}},
		{"starttls with auth", mailtest.Options{TLS: mail.TLSStartTLS, Username: "relay", Password: "s3cret-pass"}},
		{"implicit tls", mailtest.Options{TLS: mail.TLSImplicit, Username: "relay", Password: "s3cret-pass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts)
			s, err := mail.New(srv.Config())
			if err != nil {
				t.Fatal(err)
			}
			text := "Hello Kim,\n\nOpen https://community.example.com/auth/email/verify?token=abc_DEF-123 to confirm.\n"
			if err := s.Send(context.Background(), mail.Message{To: "kim@example.com", Subject: "Confirm your email – now", Text: text}); err != nil {
				t.Fatal(err)
			}
			m := srv.Wait(t, 1)
			if len(m.To) != 1 || m.To[0] != "kim@example.com" || m.From != "community@example.com" {
				t.Errorf("envelope: from %q to %q", m.From, m.To)
			}
			if m.Subject != "Confirm your email – now" {
				t.Errorf("subject %q", m.Subject)
			}
			if got := m.Link(t, "/auth/email/verify"); got != "https://community.example.com/auth/email/verify?token=abc_DEF-123" {
				t.Errorf("link %q", got)
			}
		})
	}
}

// TestSendFailures: a refused message, wrong credentials and an untrusted certificate are errors
// wrapping ErrSend that do not carry the message text.
func TestSendFailures(t *testing.T) {
	secret := "https://community.example.com/auth/password/reset?token=SECRET"
	for _, tc := range []struct {
		name   string
		opts   mailtest.Options
		change func(*mail.Config)
	}{
		{"refused", mailtest.Options{Refuse: true}, nil},
		{"wrong password", mailtest.Options{Username: "relay", Password: "right"}, func(c *mail.Config) { c.Password = "wrong" }},
		{"untrusted certificate", mailtest.Options{TLS: mail.TLSStartTLS}, func(c *mail.Config) { c.TLSConfig = nil }},
		{"starttls required", mailtest.Options{}, func(c *mail.Config) { c.TLS = mail.TLSStartTLS }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts)
			cfg := srv.Config()
			if tc.change != nil {
				tc.change(&cfg)
			}
			s, err := mail.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), mail.Message{To: "kim@example.com", Subject: "Reset", Text: secret})
			if !errors.Is(err, mail.ErrSend) {
				t.Fatalf("err = %v, want ErrSend", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error carries the message: %v", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages accepted", n)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  mail.Config
	}{
		{"no host", mail.Config{From: "a@example.com"}},
		{"no from", mail.Config{Host: "smtp.example.com"}},
		{"bad tls", mail.Config{Host: "smtp.example.com", From: "a@example.com", TLS: "ssl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mail.New(tc.cfg); err == nil {
				t.Error("no error")
			}
		})
	}
}
