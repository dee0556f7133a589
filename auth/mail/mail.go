// Package mail sends the server's mail (email confirmation and password reset links) through an
// SMTP server, with github.com/wneessen/go-mail. Nothing here logs a message's body: the links in
// it are secrets.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of the connection to the SMTP server.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption (a relay on the same host or network)
)

// DefaultTimeout bounds one send: connecting, the SMTP dialogue and the message.
const DefaultTimeout = 15 * time.Second

// Config is the SMTP server mail goes through.
type Config struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	From     string // the From header: an address, or "Name <address>"
	TLS      string // TLSStartTLS (default), TLSImplicit or TLSNone
	// TLSConfig, when set, replaces the default TLS settings (tests trust their server's certificate).
	TLSConfig *tls.Config
	Timeout   time.Duration
}

// Message is one plain-text mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender sends mail.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrSend wraps every failure to send: the connection, the SMTP server's answer, the message.
var ErrSend = errors.New("mail: send")

// SMTP sends mail through the SMTP server of its Config, one connection per message.
type SMTP struct {
	cfg Config
}

// New checks cfg and returns its sender.
func New(cfg Config) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: no SMTP host")
	}
	if cfg.From == "" {
		return nil, errors.New("mail: no sender address")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("mail: unknown TLS mode %q", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort(cfg.TLS)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if _, err := gomail.NewClient(cfg.Host, cfg.options()...); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return &SMTP{cfg: cfg}, nil
}

// DefaultPort is the usual port of a TLS mode: 587 for STARTTLS, 465 for TLS, 25 for none.
func DefaultPort(mode string) int {
	switch mode {
	case TLSImplicit:
		return gomail.DefaultPortSSL
	case TLSNone:
		return gomail.DefaultPort
	}
	return gomail.DefaultPortTLS
}

func (c Config) options() []gomail.Option {
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout)}
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	tc := c.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if c.Username != "" {
		// The strongest mechanism the server offers; without TLS, PLAIN, which go-mail sends to
		// a server on the loopback interface only.
		auth := gomail.SMTPAuthAutoDiscover
		if c.TLS == TLSNone {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	return opts
}

// Send sends m. Its error wraps ErrSend and says what failed, never the message's text.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("%w: sender address: %w", ErrSend, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("%w: recipient address: %w", ErrSend, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	client, err := gomail.NewClient(s.cfg.Host, s.cfg.options()...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSend, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("%w: via %s:%d: %w", ErrSend, s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
