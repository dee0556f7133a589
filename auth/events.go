package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
)

// Security event types.
const (
	EventLoginSucceeded         = "LOGIN_SUCCEEDED"
	EventLoginFailed            = "LOGIN_FAILED"
	EventLogout                 = "LOGOUT"
	EventAPITokenCreated        = "API_TOKEN_CREATED"
	EventAPITokenRevoked        = "API_TOKEN_REVOKED"
	EventSessionRevoked         = "SESSION_REVOKED"
	EventSessionRevalidated     = "SESSION_REVALIDATED"
	EventRevalidationDeferred   = "SESSION_REVALIDATION_DEFERRED"
	EventRateLimited            = "RATE_LIMITED"
	EventUserCreated            = "USER_CREATED"
	EventUserLinked             = "USER_LINKED"
	EventUserUpdated            = "USER_UPDATED"
	EventSSOConflict            = "SSO_CONFLICT"
	EventRoleChanged            = "ROLE_CHANGED"
	EventRoleChangeRefused      = "ROLE_CHANGE_REFUSED"
	EventStatusChanged          = "STATUS_CHANGED"
	EventSpaceMembershipChanged = "SPACE_MEMBERSHIP_CHANGED"
	EventSettingsChanged        = "SETTINGS_CHANGED"
	EventIdentifierReview       = "IDENTIFIER_REVIEW"
)

// Event is one security log entry to record.
type Event struct {
	Type    string
	UserID  int // 0: none
	Method  string
	IP      string
	Agent   string
	Subject string // e.g. the email of a failed login, for rate limits
	Detail  map[string]any
}

// FromRequest fills the event's ip and user agent from r.
func (e Event) FromRequest(r *http.Request) Event {
	if r == nil {
		return e
	}
	e.IP = ClientIP(r)
	e.Agent = r.UserAgent()
	return e
}

// ClientIP is the address of the connection's peer (see web.ClientIP).
func ClientIP(r *http.Request) string { return web.ClientIP(r) }

// Record writes e with client (which may be a transaction's client, so the event commits or
// rolls back with the change it describes).
func Record(ctx context.Context, client *ent.Client, e Event) error {
	return RecordAll(ctx, client, e)
}

// eventColumns are the columns an event's INSERT sets: all but the id.
var eventColumns = []string{
	securityevent.FieldCreatedAt, securityevent.FieldType, securityevent.FieldUserID,
	securityevent.FieldMethod, securityevent.FieldIP, securityevent.FieldUserAgent,
	securityevent.FieldSubject, securityevent.FieldDetail,
}

// eventInsert is the INSERT of events without its rows, and eventRow one row's placeholders.
var eventInsert, eventRow = insertInto(securityevent.Table, eventColumns...)

// insertInto is an INSERT into table's columns without its rows ("INSERT INTO `t` (`a`, `b`)
// VALUES "), and one row's placeholders ("(?, ?)"), as SQLite and MySQL/MariaDB both read them.
func insertInto(table string, columns ...string) (head, row string) {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = "`" + c + "`"
	}
	return "INSERT INTO `" + table + "` (" + strings.Join(quoted, ", ") + ") VALUES ",
		"(" + strings.Repeat("?, ", len(columns)-1) + "?)"
}

// RecordAll writes events, in order, with one fixed INSERT (see "Statements on the login path"
// in the package doc). The values are what ent would write: the time of day, NULL for no user
// or no detail, and the detail as JSON.
func RecordAll(ctx context.Context, client *ent.Client, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var stmt strings.Builder
	stmt.Grow(len(eventInsert) + len(events)*(len(eventRow)+2))
	stmt.WriteString(eventInsert)
	args := make([]any, 0, len(events)*len(eventColumns))
	now := time.Now()
	for i, e := range events {
		if e.Type == "" || len(e.Type) > 64 {
			return fmt.Errorf("auth: record event: invalid type %q", e.Type)
		}
		var userID, detail any
		if e.UserID != 0 {
			userID = e.UserID
		}
		if e.Detail != nil {
			buf, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("auth: record event %s: detail: %w", e.Type, err)
			}
			detail = json.RawMessage(buf)
		}
		if i > 0 {
			stmt.WriteString(", ")
		}
		stmt.WriteString(eventRow)
		args = append(args, now, e.Type, userID, Truncate(e.Method, 16), Truncate(e.IP, 64),
			Truncate(e.Agent, 512), Truncate(e.Subject, 200), detail)
	}
	if _, err := client.ExecContext(ctx, stmt.String(), args...); err != nil {
		return fmt.Errorf("auth: record event: %w", err)
	}
	return nil
}

// RecordOrLog records e and logs (never fails the request) when the database refuses it.
func RecordOrLog(ctx context.Context, client *ent.Client, log *slog.Logger, e Event) {
	if err := Record(ctx, client, e); err != nil {
		log.WarnContext(ctx, "auth: record security event", "type", e.Type, "err", err)
	}
}

// Truncate cuts s to at most n bytes on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
