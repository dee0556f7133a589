package authdb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/securityevent"
)

// Event is one security log entry to insert.
type Event struct {
	Type    string
	UserID  int // 0: none
	Method  string
	IP      string
	Agent   string
	Subject string // e.g. the email of a failed login, for rate limits
	Detail  map[string]any
}

// eventColumns are the columns an event's INSERT sets: all but the id.
var eventColumns = []string{
	securityevent.FieldCreatedAt, securityevent.FieldType, securityevent.FieldUserID,
	securityevent.FieldMethod, securityevent.FieldIP, securityevent.FieldUserAgent,
	securityevent.FieldSubject, securityevent.FieldDetail,
}

// The sizes of the events' free-text columns.
var (
	eventMethodSize  = Size(migrate.SecurityEventsTable, securityevent.FieldMethod)
	eventIPSize      = Size(migrate.SecurityEventsTable, securityevent.FieldIP)
	eventAgentSize   = Size(migrate.SecurityEventsTable, securityevent.FieldUserAgent)
	eventSubjectSize = Size(migrate.SecurityEventsTable, securityevent.FieldSubject)
)

// eventInsert is the INSERT of events without its rows, and eventRow one row's placeholders.
var eventInsert, eventRow = insertInto(securityevent.Table, eventColumns...)

// oneEvent is the INSERT of one event, the most common.
var oneEvent = eventInsert + eventRow

// InsertEvents inserts events, in order, with one statement, written at: the values ent would
// write (NULL for no user or no detail, the detail as JSON), the free-text columns cut to their
// size. An event whose type the schema refuses writes nothing.
func InsertEvents(ctx context.Context, client *ent.Client, at time.Time, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	args := make([]any, 0, len(events)*len(eventColumns))
	for _, e := range events {
		if err := securityevent.TypeValidator(e.Type); err != nil {
			return fmt.Errorf("authdb: insert event: invalid type %q: %w", e.Type, err)
		}
		var userID, detail any
		if e.UserID != 0 {
			userID = e.UserID
		}
		if e.Detail != nil {
			buf, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("authdb: insert event %s: detail: %w", e.Type, err)
			}
			detail = json.RawMessage(buf)
		}
		args = append(args, at, e.Type, userID, Truncate(e.Method, eventMethodSize), Truncate(e.IP, eventIPSize),
			Truncate(e.Agent, eventAgentSize), Truncate(e.Subject, eventSubjectSize), detail)
	}
	query := oneEvent
	if len(events) > 1 {
		query = rows(eventInsert, eventRow, len(events))
	}
	if _, err := client.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("authdb: insert event: %w", err)
	}
	return nil
}
