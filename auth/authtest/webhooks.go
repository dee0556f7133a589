package authtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Delivery is one request a Receiver accepted: its webhook-id and its body.
type Delivery struct {
	ID   string
	Body []byte
}

// Receiver is a webhook endpoint: it verifies each request's signature with the Standard
// Webhooks library (an implementation independent of the server's), counts the requests whose
// signature fails, and answers each valid one with what Respond says.
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	verifier *standardwebhooks.Webhook
	got      []Delivery
	attempts int
	invalid  int
	// Respond, when set, answers the n-th (from 1) valid request; nil answers 204.
	Respond func(n int, w http.ResponseWriter)
}

// StartReceiver serves a Receiver until the test ends; SetSecret gives it the secret to verify with.
func StartReceiver(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// SetSecret sets the signing secret (whsec_…) the receiver verifies with.
func (rc *Receiver) SetSecret(t testing.TB, secret string) {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("receiver: secret: %v", err)
	}
	rc.mu.Lock()
	rc.secret, rc.verifier = secret, v
	rc.mu.Unlock()
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	v := rc.verifier
	if v == nil || r.Method != http.MethodPost || v.Verify(body, r.Header) != nil {
		rc.invalid++
		rc.mu.Unlock()
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	rc.attempts++
	n, respond := rc.attempts, rc.Respond
	rc.mu.Unlock()
	if respond != nil {
		rw := &recorder{ResponseWriter: w}
		respond(n, rw)
		if rw.status < 200 || rw.status > 299 {
			return
		}
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, Delivery{ID: r.Header.Get("webhook-id"), Body: body})
	rc.mu.Unlock()
}

// recorder remembers the status a Respond func wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Delivered returns the deliveries answered with 2xx so far, in arrival order.
func (rc *Receiver) Delivered() []Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Delivery(nil), rc.got...)
}

// Attempts is the number of validly signed requests so far, answered with any status.
func (rc *Receiver) Attempts() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts
}

// Invalid is the number of requests whose signature did not verify.
func (rc *Receiver) Invalid() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.invalid
}

// WaitFor waits up to timeout for done to hold of the delivered requests, and fails the test
// when it does not.
func (rc *Receiver) WaitFor(t testing.TB, timeout time.Duration, what string, done func([]Delivery) bool) []Delivery {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := rc.Delivered()
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver: %s: not within %s; got %d deliveries (%d invalid)", what, timeout, len(got), rc.Invalid())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
