package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/loginthrottle"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

func TestRateLimitDelay(t *testing.T) {
	rl := auth.DefaultRateLimit
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {5, 0},
		{6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second},
		{15, 512 * time.Second}, {16, 15 * time.Minute}, {70, 15 * time.Minute}, {1 << 30, 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.failures), func(t *testing.T) {
			if got := rl.Delay(tt.failures); got != tt.want {
				t.Fatalf("Delay(%d) = %s, want %s", tt.failures, got, tt.want)
			}
		})
	}
}

func TestThrottleAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := auth.ThrottleAddress(tt.in); got != tt.want {
				t.Fatalf("ThrottleAddress(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// limited returns the *auth.Limited in err, failing the test when there is none.
func limited(t *testing.T, err error) *auth.Limited {
	t.Helper()
	var l *auth.Limited
	if !errors.As(err, &l) {
		t.Fatalf("want *auth.Limited, got %v", err)
	}
	return l
}

func TestThrottle(t *testing.T) {
	free := auth.DefaultRateLimit.FreeFailures
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newThrottle := func(t *testing.T) (*auth.Throttle, *authtest.Clock) {
			t.Helper()
			db.Client.LoginThrottle.Delete().ExecX(ctx)
			c := &authtest.Clock{Start: time.Date(2026, 11, 30, 12, 0, 0, 0, time.Local)}
			return &auth.Throttle{Client: db.Client, Limit: auth.DefaultRateLimit, Now: c.Now}, c
		}
		admit := func(t *testing.T, th *auth.Throttle, ip, email string) *auth.Attempt {
			t.Helper()
			a, err := th.Begin(ctx, ip, email)
			if err != nil {
				t.Fatalf("Begin(%s, %s): %v", ip, email, err)
			}
			return a
		}

		t.Run("progressive delay grows and resets after a success", func(t *testing.T) {
			th, c := newThrottle(t)
			for range free {
				admit(t, th, "192.0.2.1", "ann@example.com")
			}
			// The first failure past the free ones is checked at once too; the pair then waits 1s,
			// 2s, 4s.
			admit(t, th, "192.0.2.1", "ann@example.com")
			for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
				_, err := th.Begin(ctx, "192.0.2.1", "ann@example.com")
				if l := limited(t, err); l.Scope != auth.ScopeEmail || l.RetryAfter != wait {
					t.Fatalf("refused %+v, want scope email and %s", l, wait)
				}
				// Another address, or another email from this address, is not held up.
				admit(t, th, "198.51.100.9", "ann@example.com").Succeeded(ctx)
				admit(t, th, "192.0.2.1", "bob@example.com").Succeeded(ctx)
				c.Advance(wait - time.Millisecond)
				if _, err := th.Begin(ctx, "192.0.2.1", "ann@example.com"); limited(t, err).RetryAfter != time.Millisecond {
					t.Fatalf("a millisecond before the end of the delay: %v", err)
				}
				c.Advance(time.Millisecond)
				admit(t, th, "192.0.2.1", "ann@example.com")
			}
		})

		t.Run("a success clears the pair", func(t *testing.T) {
			th, _ := newThrottle(t)
			for range free + 1 {
				admit(t, th, "192.0.2.1", "ann@example.com")
			}
			if _, err := th.Begin(ctx, "192.0.2.1", "ann@example.com"); limited(t, err).Scope != auth.ScopeEmail {
				t.Fatal("want the pair delayed")
			}
			// Say the owner waited and got it right.
			db.Client.LoginThrottle.Update().Where(loginthrottle.Subject("ann@example.com")).
				SetLastAt(time.Date(2026, 11, 30, 11, 0, 0, 0, time.Local)).ExecX(ctx)
			if err := admit(t, th, "192.0.2.1", "ann@example.com").Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
			for range free + 1 {
				admit(t, th, "192.0.2.1", "ann@example.com")
			}
		})

		t.Run("an address that fails a lot is throttled for every email", func(t *testing.T) {
			th, c := newThrottle(t)
			for i := range 20 {
				admit(t, th, "192.0.2.1", fmt.Sprintf("user%d@example.com", i))
			}
			c.Advance(5 * time.Minute)
			_, err := th.Begin(ctx, "192.0.2.1", "new@example.com")
			if l := limited(t, err); l.Scope != auth.ScopeAddress || l.RetryAfter != 10*time.Minute || l.RetryAfterSeconds() != 600 {
				t.Fatalf("refused %+v, want scope address for the 10 minutes left", l)
			}
			admit(t, th, "192.0.2.2", "new@example.com")
			c.Advance(10 * time.Minute)
			admit(t, th, "192.0.2.1", "new@example.com")
		})

		t.Run("successes and cancelled attempts do not count against an address", func(t *testing.T) {
			th, _ := newThrottle(t)
			for i := range 30 {
				a := admit(t, th, "192.0.2.1", fmt.Sprintf("user%d@example.com", i))
				if i%2 == 0 {
					err := a.Succeeded(ctx)
					if err != nil {
						t.Fatal(err)
					}
				} else if err := a.Cancel(ctx); err != nil {
					t.Fatal(err)
				}
			}
			n := db.Client.LoginThrottle.Query().Where(loginthrottle.IP("192.0.2.1"), loginthrottle.Subject("")).OnlyX(ctx)
			if n.Failures != 0 {
				t.Fatalf("address counter at %d, want 0", n.Failures)
			}
		})

		t.Run("expired counters start again and are pruned", func(t *testing.T) {
			th, c := newThrottle(t)
			for range free + 3 {
				th.Begin(ctx, "192.0.2.1", "ann@example.com")
			}
			c.Advance(auth.DefaultRateLimit.Delay(free+1) + auth.DefaultRateLimit.Window)
			admit(t, th, "192.0.2.1", "ann@example.com")
			rows := db.Client.LoginThrottle.Query().AllX(ctx)
			for _, r := range rows {
				if r.Failures != 1 {
					t.Fatalf("counter %q/%q at %d after expiry, want 1", r.IP, r.Subject, r.Failures)
				}
			}
			n, err := auth.Prune(ctx, db.Client, c.Now().Add(auth.DefaultRateLimit.Window+time.Second))
			if err != nil || n != 2 {
				t.Fatalf("Prune = %d, %v; want the two counters", n, err)
			}
		})

		// 200 attempts at once can only pass a limit one by one.
		concurrent := func(t *testing.T, th *auth.Throttle, email func(i int) string) (admitted int) {
			t.Helper()
			var ok atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 200)
			for i := range 200 {
				wg.Go(func() {
					<-start
					_, err := th.Begin(ctx, "192.0.2.1", email(i))
					var l *auth.Limited
					switch {
					case err == nil:
						ok.Add(1)
					case !errors.As(err, &l):
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Begin: %v", err)
			}
			return int(ok.Load())
		}

		t.Run("concurrent attempts for one pair", func(t *testing.T) {
			th, _ := newThrottle(t)
			th.Limit.PerAddress = 1000
			admitted := concurrent(t, th, func(int) string { return "ann@example.com" })
			row := db.Client.LoginThrottle.Query().Where(loginthrottle.Subject("ann@example.com")).OnlyX(ctx)
			if admitted < 1 || admitted > free+1 || row.Failures != admitted {
				t.Fatalf("%d of 200 concurrent attempts admitted, counter %d; want 1 to %d (the free ones and one more), all counted", admitted, row.Failures, free+1)
			}
		})

		t.Run("as many attempts at once as the pair may make are all admitted", func(t *testing.T) {
			th, _ := newThrottle(t)
			th.Now = nil // the real clock: each attempt reads it at its own moment
			for round := range 20 {
				var wg sync.WaitGroup
				var mu sync.Mutex
				var admitted []*auth.Attempt
				for range free + 1 {
					wg.Go(func() {
						a, err := th.Begin(ctx, "192.0.2.1", "ann@example.com")
						if err != nil {
							t.Errorf("round %d: %v", round, err)
							return
						}
						mu.Lock()
						admitted = append(admitted, a)
						mu.Unlock()
					})
				}
				wg.Wait()
				for _, a := range admitted {
					if err := a.Succeeded(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
		})

		t.Run("concurrent attempts from one address", func(t *testing.T) {
			th, _ := newThrottle(t)
			admitted := concurrent(t, th, func(i int) string { return fmt.Sprintf("user%d@example.com", i) })
			row := db.Client.LoginThrottle.Query().Where(loginthrottle.IP("192.0.2.1"), loginthrottle.Subject("")).OnlyX(ctx)
			if admitted < 1 || admitted > 20 || row.Failures != admitted {
				t.Fatalf("%d of 200 concurrent attempts admitted, counter %d; want 1 to 20, all counted", admitted, row.Failures)
			}
		})
	})
}
