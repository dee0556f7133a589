package authdb

import (
	"context"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/loginthrottle"
	"github.com/community/sso/ent/migrate"
)

// Counter is a login throttle counter's row (login_throttles): failed direct logins under one
// key (a client address, or an email and address pair).
type Counter struct {
	Failures      int
	Last, Expires time.Time
}

// ReadCounter returns the counter of key, or nil when there is none.
func ReadCounter(ctx context.Context, client *ent.Client, key string) (*Counter, error) {
	row, err := client.LoginThrottle.Query().Where(loginthrottle.Key(key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("authdb: read login counter: %w", err)
	}
	return &Counter{Failures: row.Failures, Last: row.LastAt, Expires: row.ExpiresAt}, nil
}

// InsertCounter inserts the counter of key, with the address and subject it counts (cut to
// their columns). A concurrent insert of the same key fails the unique key: a retryable error
// (store.IsRetryable).
func InsertCounter(ctx context.Context, client *ent.Client, key, addr, subject string, c Counter, now time.Time) error {
	err := client.LoginThrottle.Create().
		SetKey(key).SetIP(Fit(migrate.LoginThrottlesTable, loginthrottle.FieldIP, addr)).
		SetSubject(Fit(migrate.LoginThrottlesTable, loginthrottle.FieldSubject, subject)).
		SetFailures(c.Failures).SetLastAt(c.Last).SetExpiresAt(c.Expires).SetCreatedAt(now).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("authdb: insert login counter: %w", err)
	}
	return nil
}

// SwapCounter sets the counter of key to next if it still holds was's failures and is still
// expired (or still live) at now as was was read; it reports whether it did (compare and set).
func SwapCounter(ctx context.Context, client *ent.Client, key string, was Counter, now time.Time, next Counter) (bool, error) {
	q := client.LoginThrottle.Update().Where(loginthrottle.Key(key), loginthrottle.Failures(was.Failures))
	if !now.Before(was.Expires) {
		q.Where(loginthrottle.ExpiresAtLTE(now))
	} else {
		q.Where(loginthrottle.ExpiresAtGT(now))
	}
	n, err := q.SetFailures(next.Failures).SetLastAt(next.Last).SetExpiresAt(next.Expires).Save(ctx)
	if err != nil {
		return false, fmt.Errorf("authdb: update login counter: %w", err)
	}
	return n == 1, nil
}

// DeleteCounter deletes the counter of key.
func DeleteCounter(ctx context.Context, client *ent.Client, key string) error {
	if _, err := client.LoginThrottle.Delete().Where(loginthrottle.Key(key)).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: delete login counter: %w", err)
	}
	return nil
}

// GiveBackFailure takes one failure off the counter of key, if it has one.
func GiveBackFailure(ctx context.Context, client *ent.Client, key string) error {
	err := client.LoginThrottle.Update().
		Where(loginthrottle.Key(key), loginthrottle.FailuresGT(0)).
		AddFailures(-1).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("authdb: give back a login failure: %w", err)
	}
	return nil
}
