package authdb

import (
	"context"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/apitoken"
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
	// SID is the OpenID Connect session id of an OAUTH2 session (the id_token's sid); empty is
	// NULL.
	SID string
}

// sessionColumns are the columns of insertSession, in the order InsertSession passes them.
var sessionColumns = []string{
	session.FieldCreatedAt, session.FieldTokenHash, session.FieldUserID, session.FieldMethod,
	session.FieldExpiresAt, session.FieldLastSeenAt, session.FieldIP, session.FieldUserAgent,
	session.FieldIDToken, session.FieldRefreshToken, session.FieldRevalidateAt, session.FieldOidcSid,
}

// The sizes of the sessions' free-text columns.
var (
	sessionIPSize    = Size(migrate.SessionsTable, session.FieldIP)
	sessionAgentSize = Size(migrate.SessionsTable, session.FieldUserAgent)
	// SIDSize is the longest OpenID Connect session id a session keeps.
	SIDSize = Size(migrate.SessionsTable, session.FieldOidcSid)
)

var insertSession = func() string {
	head, row := insertInto(session.Table, sessionColumns...)
	return head + row
}()

// InsertSession inserts s and returns its id. The method must be one the schema knows, and a
// session id must fit its column (SIDSize): it is never cut, as a cut one could name another
// session.
func InsertSession(ctx context.Context, client *ent.Client, s Session) (int, error) {
	if err := session.MethodValidator(s.Method); err != nil {
		return 0, fmt.Errorf("authdb: insert session: %w", err)
	}
	var sid any
	if s.SID != "" {
		if err := session.OidcSidValidator(s.SID); err != nil {
			return 0, fmt.Errorf("authdb: insert session: %w", err)
		}
		sid = s.SID
	}
	var revalidate any
	if s.RevalidateAt != nil {
		revalidate = *s.RevalidateAt
	}
	res, err := client.ExecContext(ctx, insertSession, s.At, s.TokenHash, s.UserID, string(s.Method), s.ExpiresAt, s.At,
		Truncate(s.IP, sessionIPSize), Truncate(s.Agent, sessionAgentSize),
		nullBytes(s.IDToken), nullBytes(s.RefreshToken), revalidate, sid)
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

// SessionByToken returns the session whose token hashes to tokenHash, with its member, or nil.
func SessionByToken(ctx context.Context, client *ent.Client, tokenHash []byte) (*ent.Session, error) {
	sess, err := client.Session.Query().Where(session.TokenHash(tokenHash)).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authdb: look up session: %w", err)
	}
	return sess, nil
}

// TouchSession writes a session's last use and its new expiry (the sliding expiry). A session
// that ended meanwhile fails with ent's not-found error.
func TouchSession(ctx context.Context, client *ent.Client, sess *ent.Session, seen, expires time.Time) error {
	if err := client.Session.UpdateOne(sess).SetLastSeenAt(seen).SetExpiresAt(expires).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: touch session: %w", err)
	}
	return nil
}

// TakeSession deletes the session whose token hashes to tokenHash and returns it as it was, or
// nil when there is none: it reads the row, then deletes it by id (EndSession deletes without
// reading). A session deleted between the two is still returned.
func TakeSession(ctx context.Context, client *ent.Client, tokenHash []byte) (*ent.Session, error) {
	sess, err := client.Session.Query().Where(session.TokenHash(tokenHash)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authdb: take session: %w", err)
	}
	if err := client.Session.DeleteOne(sess).Exec(ctx); err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("authdb: take session: %w", err)
	}
	return sess, nil
}

// EndMemberSessions deletes every session of the member userID and returns how many there were.
func EndMemberSessions(ctx context.Context, client *ent.Client, userID int) (int, error) {
	n, err := client.Session.Delete().Where(session.UserID(userID)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("authdb: end the member's sessions: %w", err)
	}
	return n, nil
}

// OIDCSessions returns the OAUTH2 sessions whose OpenID Connect session id is sid, their id and
// member only, in id order (the index on oidc_sid finds them).
func OIDCSessions(ctx context.Context, client *ent.Client, sid string) ([]*ent.Session, error) {
	ss, err := client.Session.Query().
		Where(session.OidcSid(sid), session.MethodEQ(session.MethodOAUTH2)).
		Order(ent.Asc(session.FieldID)).
		Select(session.FieldID, session.FieldUserID).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: sessions of an oidc session id: %w", err)
	}
	return ss, nil
}

// MemberOAuth2Sessions returns the OAUTH2 sessions of the member userID, their id and member
// only, in id order.
func MemberOAuth2Sessions(ctx context.Context, client *ent.Client, userID int) ([]*ent.Session, error) {
	ss, err := client.Session.Query().
		Where(session.UserID(userID), session.MethodEQ(session.MethodOAUTH2)).
		Order(ent.Asc(session.FieldID)).
		Select(session.FieldID, session.FieldUserID).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: the member's oauth2 sessions: %w", err)
	}
	return ss, nil
}

// EndSessions deletes the sessions ids and returns how many there were (a session that ended
// meanwhile is not counted).
func EndSessions(ctx context.Context, client *ent.Client, ids ...int) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := client.Session.Delete().Where(session.IDIn(ids...)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("authdb: end sessions: %w", err)
	}
	return n, nil
}

// APITokenByToken returns the API token whose token hashes to tokenHash, with its member, or nil.
func APITokenByToken(ctx context.Context, client *ent.Client, tokenHash []byte) (*ent.APIToken, error) {
	t, err := client.APIToken.Query().Where(apitoken.TokenHash(tokenHash)).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authdb: look up api token: %w", err)
	}
	return t, nil
}

// TouchAPIToken writes an API token's last use. A token revoked meanwhile fails with ent's
// not-found error.
func TouchAPIToken(ctx context.Context, client *ent.Client, t *ent.APIToken, at time.Time) error {
	if err := client.APIToken.UpdateOne(t).SetLastUsedAt(at).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: touch api token: %w", err)
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
