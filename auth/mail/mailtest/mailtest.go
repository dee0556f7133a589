// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on the loopback
// interface for tests: it keeps every message it accepts, decoded, so a test can read the link a
// mail carries. It speaks plain SMTP, STARTTLS or implicit TLS with a certificate of its own, and
// can require a username and password or refuse every message.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/community/sso/auth/mail"
)

// Message is a mail the server accepted.
type Message struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO
	Header  netmail.Header
	Subject string // decoded
	Text    string // the body, decoded
}

// Options shape the server.
type Options struct {
	// TLS is mail.TLSNone (default), mail.TLSStartTLS or mail.TLSImplicit.
	TLS string
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// Refuse, when set, makes the server answer every message with a permanent error.
	Refuse bool
	// Delay, when set, is how long the server takes to accept a message's data.
	Delay time.Duration
}

// Server is a running SMTP server. Start it with Start; the test's cleanup stops it.
type Server struct {
	Host string
	Port int
	opts Options
	pool *x509.CertPool

	mu     sync.Mutex
	msgs   []Message
	arrive chan struct{}
	refuse bool
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.TLS == "" {
		opts.TLS = mail.TLSNone
	}
	s := &Server{Host: "127.0.0.1", opts: opts, arrive: make(chan struct{}, 100), refuse: opts.Refuse}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "mailtest.invalid"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = opts.TLS == mail.TLSNone
	srv.ErrorLog = testLog{t}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	if opts.TLS != mail.TLSNone {
		cert, pool := certificate(t)
		s.pool = pool
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.TLS == mail.TLSImplicit {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// Config is the mail.Config that sends through this server (trusting its certificate).
func (s *Server) Config() mail.Config {
	c := mail.Config{
		Host: s.Host, Port: s.Port, Username: s.opts.Username, Password: s.opts.Password,
		From: "Community <community@example.com>", TLS: s.opts.TLS, Timeout: 5 * time.Second,
	}
	if s.pool != nil {
		c.TLSConfig = &tls.Config{RootCAs: s.pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}
	return c
}

// Env is the server's SMTP_* environment for auth/config (plain SMTP only: the environment
// cannot carry the test certificate).
func (s *Server) Env() map[string]string {
	env := map[string]string{
		"SMTP_HOST": s.Host, "SMTP_PORT": strconv.Itoa(s.Port), "SMTP_TLS": s.opts.TLS,
		"SMTP_FROM": "Community <community@example.com>",
	}
	if s.opts.Username != "" {
		env["SMTP_USERNAME"], env["SMTP_PASSWORD"] = s.opts.Username, s.opts.Password
	}
	return env
}

// SetRefuse makes the server refuse (true) or accept (false) the messages that follow.
func (s *Server) SetRefuse(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = refuse
}

// Messages are the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits (at most 10 s) until the server holds n messages and returns the nth.
func (s *Server) Wait(t testing.TB, n int) Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs[n-1]
		}
		select {
		case <-s.arrive:
		case <-deadline:
			t.Fatalf("mailtest: waited for message %d, have %d", n, len(s.Messages()))
		}
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Link is the first link in m's text that contains path (e.g. "/auth/email/verify").
func (m Message) Link(t testing.TB, path string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Text, -1) {
		if strings.Contains(l, path) {
			return l
		}
	}
	t.Fatalf("mailtest: no %s link in the message:\n%s", path, m.Text)
	return ""
}

type session struct {
	s    *Server
	from string
	to   []string
	auth bool
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if se.s.opts.Username == "" || username != se.s.opts.Username || password != se.s.opts.Password {
			return errors.New("invalid credentials")
		}
		se.auth = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.auth {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(se.s.opts.Delay)
	se.s.mu.Lock()
	refuse := se.s.refuse
	se.s.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "refused by the test"}
	}
	m, err := decode(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unreadable message: " + err.Error()}
	}
	m.From, m.To = se.from, append([]string(nil), se.to...)
	se.s.mu.Lock()
	se.s.msgs = append(se.s.msgs, m)
	se.s.mu.Unlock()
	select {
	case se.s.arrive <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// decode reads a single-part text message (what auth/mail sends).
func decode(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		return Message{}, errors.New("base64 bodies are not decoded")
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return Message{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, err
	}
	return Message{Header: msg.Header, Subject: subject, Text: string(text)}, nil
}

// certificate is a self-signed certificate for 127.0.0.1 and the pool that trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type testLog struct{ t testing.TB }

func (l testLog) Printf(format string, v ...any) { l.t.Logf("mailtest: "+format, v...) }
func (l testLog) Println(v ...any)               { l.t.Log(append([]any{"mailtest:"}, v...)...) }
