package authdb

import (
	"context"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/user"
)

// Session is a new session's row: every column but the id.
type Session struct {
	TokenHash    []byte
	UserID       int
	Method       session.Method
	At           time.Time // created_at and last_seen_at
	ExpiresAt    time.Time
	IP, Agent    string // cut to their columns (Fit)
	IDToken      []byte // sealed; empty is NULL
	RefreshToken []byte // sealed; empty is NULL
	RevalidateAt *time.Time
}

// sessionColumns are the columns of insertSession, in the order InsertSession passes them.
var sessionColumns = []string{
	session.FieldCreatedAt, session.FieldTokenHash, session.FieldUserID, session.FieldMethod,
	session.FieldExpiresAt, session.FieldLastSeenAt, session.FieldIP, session.FieldUserAgent,
	session.FieldIDToken, session.FieldRefreshToken, session.FieldRevalidateAt,
}

// The sizes of the sessions' free-text columns.
var (
	sessionIPSize    = Size(migrate.SessionsTable, session.FieldIP)
	sessionAgentSize = Size(migrate.SessionsTable, session.FieldUserAgent)
)

var insertSession = func() string {
	head, row := insertInto(session.Table, sessionColumns...)
	return head + row
}()

// InsertSession inserts s and returns its id. The method must be one the schema knows.
func InsertSession(ctx context.Context, client *ent.Client, s Session) (int, error) {
	if err := session.MethodValidator(s.Method); err != nil {
		return 0, fmt.Errorf("authdb: insert session: %w", err)
	}
	var revalidate any
	if s.RevalidateAt != nil {
		revalidate = *s.RevalidateAt
	}
	res, err := client.ExecContext(ctx, insertSession, s.At, s.TokenHash, s.UserID, string(s.Method), s.ExpiresAt, s.At,
		Truncate(s.IP, sessionIPSize), Truncate(s.Agent, sessionAgentSize),
		nullBytes(s.IDToken), nullBytes(s.RefreshToken), revalidate)
	if err != nil {
		return 0, fmt.Errorf("authdb: insert session: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("authdb: insert session: %w", err)
	}
	return int(id), nil
}

// EndSession deletes the session whose token hashes to tokenHash, if there is one.
func EndSession(ctx context.Context, client *ent.Client, tokenHash []byte) error {
	if _, err := client.Session.Delete().Where(session.TokenHash(tokenHash)).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: end session: %w", err)
	}
	return nil
}

// nullBytes is b, or NULL when b is empty (what ent writes for an unset optional field).
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// recordLogin is one UPDATE of last_login_at alone: no read-back of the row, and updated_at
// stays as it is (a login is not a change of the profile; ent's update default would bump it).
var recordLogin = "UPDATE " + quote(user.Table) + " SET " + quote(user.FieldLastLoginAt) + " = ? WHERE " + quote(user.FieldID) + " = ?"

// RecordLogin sets the member's last_login_at to at, with one UPDATE of that column alone.
// Inside a login's transaction it is also what takes the member's row lock: a login that sends
// it before anything that references the row (memberships, field values, the session, events)
// locks the row once, exclusively, instead of sharing it first and asking for it exclusively
// later, which is how concurrent logins of one member deadlock on MySQL/MariaDB.
func RecordLogin(ctx context.Context, client *ent.Client, userID int, at time.Time) error {
	if _, err := client.ExecContext(ctx, recordLogin, at, userID); err != nil {
		return fmt.Errorf("authdb: record login time: %w", err)
	}
	return nil
}
