package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/webhookdelivery"
)

// Defaults of a Worker.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultPoll        = time.Second
	DefaultBatch       = 32
	DefaultConcurrency = 8
	DefaultBackoff     = 10 * time.Second
	DefaultMaxBackoff  = time.Hour
	// DefaultMaxAttempts with the default backoff retries a delivery for about 3.5 hours (10s,
	// 20s, … doubling up to an hour between attempts) before it is FAILED.
	DefaultMaxAttempts = 12
)

// Worker delivers the outbox's due deliveries: it claims a batch for a lease
// (authdb.ClaimDeliveries), sends each one, and records the outcome; a failed attempt is retried
// after an exponential backoff with jitter until MaxAttempts, then the delivery is FAILED. Every
// replica runs one; the claims keep them from sending a row twice at once, and a row whose worker
// died is claimed again when its lease ends (at-least-once, with the same webhook-id).
type Worker struct {
	DB     *store.DB
	Sealer *seal.Sealer
	// Client sends the deliveries (NewClient: timeout, no redirects, no private addresses).
	Client *http.Client
	Log    *slog.Logger
	// Metrics, when set, counts the attempts by outcome.
	Metrics *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	Poll        time.Duration // how often due rows are looked for when the last look found none
	Lease       time.Duration // how long a claim holds a row (default: room for the whole batch's sends at the client's timeout, and 30s)
	Batch       int           // rows claimed at once
	Concurrency int           // deliveries sent at once
	Backoff     time.Duration // the first retry's delay; each next one doubles, up to MaxBackoff
	MaxBackoff  time.Duration
	MaxAttempts int // attempts before FAILED
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) lease() time.Duration {
	if w.Lease > 0 {
		return w.Lease
	}
	timeout := DefaultTimeout
	if w.Client != nil && w.Client.Timeout > 0 {
		timeout = w.Client.Timeout
	}
	// The last of a batch is sent after the rounds before it, each up to a timeout long; one
	// round more and 30 s keep the claim until its outcome is recorded.
	batch, conc := cmp.Or(w.Batch, DefaultBatch), cmp.Or(w.Concurrency, DefaultConcurrency)
	rounds := (batch + conc - 1) / conc
	return time.Duration(rounds+1)*timeout + 30*time.Second
}

// Run delivers until ctx ends. It then claims nothing more and returns once the deliveries in
// flight are done (each is bounded by the client's timeout); the caller decides how long to wait.
func (w *Worker) Run(ctx context.Context) {
	poll := cmp.Or(w.Poll, DefaultPoll)
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.WarnContext(ctx, "webhook: claim deliveries", "err", err)
		}
		if n >= cmp.Or(w.Batch, DefaultBatch) && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// conflictAttempts and conflictBackoff bound the retries of a claim or an outcome that lost a
// lock conflict (store.IsDeadlock); each is a transaction of its own.
const (
	conflictAttempts = 3
	conflictBackoff  = 20 * time.Millisecond
)

// RunOnce claims one batch of due deliveries, sends them and records the outcomes; it returns
// how many it claimed. The sends are not cut short when ctx ends (each has the client's timeout),
// so a stopping server finishes what it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if ctx.Err() != nil || !w.DB.Ready() {
		return 0, nil // stopping, or the database is away (store.DB.Watch): nothing to log each poll
	}
	// A claim that lost a lock conflict claimed nothing (its transaction rolled back before any
	// send): on Galera two nodes' SKIP LOCKED reads may pick one row, and the commit that loses
	// certification fails with 1213. Claim again: the row is the winner's now.
	var claimed []authdb.ClaimedDelivery
	err := store.Retry(ctx, conflictAttempts, conflictBackoff, store.IsDeadlock, func() (err error) {
		claimed, err = authdb.ClaimDeliveries(ctx, w.DB.Client, w.DB.Driver == store.MySQL, w.now(), w.lease(), cmp.Or(w.Batch, DefaultBatch))
		return err
	})
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, cmp.Or(w.Concurrency, DefaultConcurrency))
	var wg sync.WaitGroup
	for _, d := range claimed {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.deliver(context.WithoutCancel(ctx), d)
		}()
	}
	wg.Wait()
	return len(claimed), nil
}

// deliver sends d once and records the outcome.
func (w *Worker) deliver(ctx context.Context, d authdb.ClaimedDelivery) {
	at := w.now()
	code, err := w.send(ctx, d, at)
	o := authdb.DeliveryOutcome{Status: webhookdelivery.StatusDELIVERED, At: at, ResponseCode: code}
	if err != nil {
		o.Error = err.Error()
		o.Status = webhookdelivery.StatusPENDING
		if d.Attempts+1 >= cmp.Or(w.MaxAttempts, DefaultMaxAttempts) {
			o.Status = webhookdelivery.StatusFAILED
		} else {
			o.Next = w.now().Add(w.backoff(d.Attempts))
		}
	}
	switch o.Status {
	case webhookdelivery.StatusDELIVERED:
		w.Metrics.attempt(ResultDelivered)
	case webhookdelivery.StatusFAILED:
		w.Metrics.attempt(ResultFailed)
	default:
		w.Metrics.attempt(ResultRetry)
	}
	var held bool
	ferr := store.Retry(ctx, conflictAttempts, conflictBackoff, store.IsDeadlock, func() (err error) {
		held, err = authdb.FinishDelivery(ctx, w.DB.Client, d, o)
		return err
	})
	switch {
	case ferr != nil:
		w.Log.WarnContext(ctx, "webhook: record delivery", "delivery_id", d.ID, "err", ferr)
	case !held:
		w.Log.InfoContext(ctx, "webhook: delivery no longer held (its lease ended and another worker took it, or it was deleted)", "delivery_id", d.ID)
	case err != nil:
		w.Log.InfoContext(ctx, "webhook: delivery failed", "delivery_id", d.ID, "event", d.Event, "attempt", d.Attempts+1,
			"status", string(o.Status), "code", code, "err", o.Error)
	}
}

// backoff is the delay after the attempts+1-th failure: Backoff·2^attempts up to MaxBackoff,
// with jitter (between half of it and all of it).
func (w *Worker) backoff(attempts int) time.Duration {
	d, limit := cmp.Or(w.Backoff, DefaultBackoff), cmp.Or(w.MaxBackoff, DefaultMaxBackoff)
	for i := 0; i < attempts && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// errStatus is a response that is not 2xx.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("the endpoint answered %d", int(e)) }

// send posts d, signed, and returns the response's status code (0 when none came). Its errors
// say what went wrong without the URL (which may hold a token) or the response body.
func (w *Worker) send(ctx context.Context, d authdb.ClaimedDelivery, at time.Time) (int, error) {
	secret, err := w.Sealer.Open(PurposeSecret, d.Secret)
	if err != nil {
		return 0, errors.New("the signing secret does not open (SECRET_KEY changed?)")
	}
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the url is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "community-sso-webhooks")
	req.Header.Set(HeaderID, d.MessageID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
	req.Header.Set(HeaderSignature, Sign(secret, d.MessageID, at, body))
	client := w.Client
	if client == nil {
		client = NewClient(DefaultTimeout, false)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, describe(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errStatus(resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// describe says why a request failed, without the URL net/http's errors carry.
func describe(err error) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return errors.New("refused: the endpoint's address is not public")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("timed out")
	case errors.As(err, &dnsErr):
		return errors.New("the endpoint's host name does not resolve")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return errors.New("could not connect to the endpoint")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("timed out")
	}
	return errors.New("the request failed (connection or TLS error)")
}
