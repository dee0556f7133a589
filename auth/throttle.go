package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
)

// RateLimit is the direct login throttle's policy. Two counters decide on every attempt: one per
// client address, and one per (email, client address) pair.
type RateLimit struct {
	// PerAddress attempts that did not succeed, from one client address within Window, throttle
	// that address for every email until the window ends.
	PerAddress int
	// Window is the address counter's window (it starts with the address's first counted
	// attempt), and how long a pair's counter is kept once its delay has passed.
	Window time.Duration
	// FreeFailures of a pair are let through without delay. Each further failure makes the pair
	// wait before its next attempt is checked: FirstDelay, doubled per failure, at most MaxDelay.
	FreeFailures int
	FirstDelay   time.Duration
	MaxDelay     time.Duration
}

// DefaultRateLimit throttles an address after 20 failures in 15 minutes, and lets an (email,
// address) pair fail 5 times freely, then wait 1s, 2s, 4s… up to 15 minutes between attempts.
var DefaultRateLimit = RateLimit{PerAddress: 20, Window: 15 * time.Minute, FreeFailures: 5, FirstDelay: time.Second, MaxDelay: 15 * time.Minute}

// Delay is how long a pair with n counted failures waits before its next attempt is checked.
func (rl RateLimit) Delay(n int) time.Duration {
	k := n - rl.FreeFailures
	if k <= 0 {
		return 0
	}
	if k > 62 || rl.FirstDelay > math.MaxInt64>>(k-1) {
		return rl.MaxDelay
	}
	return min(rl.FirstDelay<<(k-1), rl.MaxDelay)
}

// Throttle counts direct login attempts in the login_throttles table, so every replica sees the
// same counts. An attempt is counted when Begin admits it, before any password is checked, with
// a compare-and-set update of the counter row: concurrent attempts each get a count of their own
// and cannot all pass a limit together. It stays counted as a failure unless it succeeds
// (Attempt.Succeeded) or checks no password at all (Attempt.Cancel).
type Throttle struct {
	Client *ent.Client
	Limit  RateLimit
	Now    func() time.Time
}

// Throttle scopes, in Limited.Scope and the RATE_LIMITED security events.
const (
	ScopeAddress = "address" // the client address failed too often, whatever the email
	ScopeEmail   = "email"   // this email failed too often from this address: it waits its delay
)

// Limited is Begin's error for an attempt the throttle refuses; nothing was counted.
type Limited struct {
	Scope      string
	RetryAfter time.Duration
}

func (e *Limited) Error() string {
	return fmt.Sprintf("auth: login throttled (%s), retry after %s", e.Scope, e.RetryAfter)
}

// RetryAfterSeconds is the Retry-After header's value: whole seconds, rounded up, at least 1.
func (e *Limited) RetryAfterSeconds() int {
	return max(int(math.Ceil(e.RetryAfter.Seconds())), 1)
}

// claimTries bounds the compare-and-set rounds of one counter: an attempt that loses this many
// races in a row is refused as throttled (only a flood on one counter gets there). Between
// rounds it waits store.Backoff with claimBackoff (1 ms·2^round, at most 32 ms), so the
// attempts of one burst spread out instead of meeting again at once.
const (
	claimTries   = 12
	claimBackoff = time.Millisecond
)

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Throttle) limit() RateLimit {
	if t.Limit.Window == 0 {
		return DefaultRateLimit
	}
	return t.Limit
}

// Attempt is a direct login attempt Begin counted.
type Attempt struct {
	t             *Throttle
	address, pair string // counter keys
}

// ThrottleAddress is the part of a client address the throttle counts: an IPv4 address, or the
// /64 prefix of an IPv6 address (one subscriber usually holds a whole /64).
func ThrottleAddress(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func throttleKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Begin counts a login attempt for email (normalized; "" when it is not an address) from the
// client address ip, or refuses it with a *Limited: when the address has used up its window, or
// when the pair has not yet waited its delay. A refused attempt counts for the address, since
// the address's counter is taken first (the address did not succeed either).
func (t *Throttle) Begin(ctx context.Context, ip, email string) (*Attempt, error) {
	addr := ThrottleAddress(ip)
	a := &Attempt{t: t, address: throttleKey("address", addr), pair: throttleKey("email", addr, email)}
	rl := t.limit()
	err := t.claim(ctx, ScopeAddress, a.address, addr, "", func(c counter, now time.Time) (counter, *Limited) {
		if c.Failures >= rl.PerAddress {
			return c, &Limited{Scope: ScopeAddress, RetryAfter: c.Expires.Sub(now)}
		}
		if c.Failures == 0 {
			c.Expires = now.Add(rl.Window)
		}
		return counter{Failures: c.Failures + 1, Last: now, Expires: c.Expires}, nil
	})
	if err != nil {
		return nil, err
	}
	err = t.claim(ctx, ScopeEmail, a.pair, addr, email, func(c counter, now time.Time) (counter, *Limited) {
		// Without a delay there is nothing to wait for (and an attempt that read the clock just
		// before another one wrote its own time must not wait for it).
		if d := rl.Delay(c.Failures); d > 0 {
			if wait := c.Last.Add(d).Sub(now); wait > 0 {
				return c, &Limited{Scope: ScopeEmail, RetryAfter: wait}
			}
		}
		n := c.Failures + 1
		return counter{Failures: n, Last: now, Expires: now.Add(rl.Delay(n) + rl.Window)}, nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Succeeded ends a successful attempt: the pair's counter is cleared (its delay resets) and the
// address gets its count back (only failures count against an address).
func (a *Attempt) Succeeded(ctx context.Context) error {
	if err := authdb.DeleteCounter(ctx, a.t.Client, a.pair); err != nil {
		return fmt.Errorf("auth: throttle: clear: %w", err)
	}
	return a.giveBack(ctx, a.address)
}

// Cancel gives both counts back: the attempt checked no password (every hash slot was busy).
func (a *Attempt) Cancel(ctx context.Context) error {
	return errors.Join(a.giveBack(ctx, a.pair), a.giveBack(ctx, a.address))
}

func (a *Attempt) giveBack(ctx context.Context, key string) error {
	if err := authdb.GiveBackFailure(ctx, a.t.Client, key); err != nil {
		return fmt.Errorf("auth: throttle: give back: %w", err)
	}
	return nil
}

// counter is a counter row's state (authdb.Counter); the zero counter is a missing or expired
// row.
type counter = authdb.Counter

// claim moves the counter of key to what next makes of it, with a compare-and-set update that
// holds only while the row still has the failures count and the expiry state it was read with,
// retrying when another attempt changed it first; a missing row is inserted, the unique key
// deciding between concurrent inserts. next refuses with a *Limited, which claim returns; an
// attempt that keeps losing races is refused too, in the counter's scope.
func (t *Throttle) claim(ctx context.Context, scope, key, addr, subject string, next func(counter, time.Time) (counter, *Limited)) error {
	for i := range claimTries {
		if i > 0 && !store.Wait(ctx, store.Backoff(i, claimBackoff)) {
			return ctx.Err()
		}
		now := t.now()
		row, err := authdb.ReadCounter(ctx, t.Client, key)
		if err != nil {
			return fmt.Errorf("auth: throttle: read: %w", err)
		}
		var cur counter
		if row != nil && now.Before(row.Expires) {
			cur = *row
		}
		upd, limited := next(cur, now)
		if limited != nil {
			return limited
		}
		if row == nil {
			err := authdb.InsertCounter(ctx, t.Client, key, addr, subject, upd, now)
			switch {
			case err == nil:
				return nil
			case store.IsRetryable(err): // another attempt inserted it first, or a lock conflict
				continue
			}
			return fmt.Errorf("auth: throttle: insert: %w", err)
		}
		swapped, err := authdb.SwapCounter(ctx, t.Client, key, *row, now, upd)
		switch {
		case swapped:
			return nil
		case err == nil || store.IsRetryable(err):
			continue
		}
		return fmt.Errorf("auth: throttle: update: %w", err)
	}
	return &Limited{Scope: scope, RetryAfter: time.Second}
}
