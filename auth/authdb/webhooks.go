package authdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/ent/webhook"
	"github.com/community/sso/ent/webhookdelivery"
)

// WebhookMessage is a webhook event a security event maps to (auth.RecordAll): its type, the
// member it is about (0: none) and what it says besides the member.
type WebhookMessage struct {
	Type   string
	UserID int
	Data   map[string]any
}

// enabledWebhooks reads the enabled endpoints' ids and event lists: the one statement a batch of
// events that maps to webhook events costs when no endpoint wants them (an index lookup on a
// small table, and no rows).
var enabledWebhooks = "SELECT " + quoteAll([]string{webhook.FieldID, webhook.FieldEvents}) + " FROM " + quote(webhook.Table) +
	" WHERE " + quote(webhook.FieldEnabled) + " = ?"

// deliveryColumns are the columns the outbox INSERT sets; the others keep their defaults.
var deliveryColumns = []string{
	webhookdelivery.FieldCreatedAt, webhookdelivery.FieldUpdatedAt, webhookdelivery.FieldWebhookID,
	webhookdelivery.FieldEvent, webhookdelivery.FieldPayload, webhookdelivery.FieldMessageID,
	webhookdelivery.FieldStatus, webhookdelivery.FieldAttempts, webhookdelivery.FieldNextAttemptAt,
}

var deliveryInsert, deliveryRow = insertInto(webhookdelivery.Table, deliveryColumns...)

// webhookMemberColumns are the member's columns a webhook payload shows.
var webhookMemberColumns = []string{
	user.FieldID, user.FieldExternalID, user.FieldEmail, user.FieldName, user.FieldUsername,
	user.FieldRole, user.FieldStatus,
}

// RecordEvents writes events (InsertEvents) and, in the same transaction, the outbox rows of
// msgs: one WebhookDelivery for each enabled webhook that subscribes to a message's type. A
// client that is not a transaction's gets one for both writes when there are rows to write, so
// the security log and the outbox commit or roll back together; inside a transaction they go
// with the change they report. With msgs, one SELECT of the enabled webhooks comes first; when
// none wants them nothing else is read or written besides the events.
func RecordEvents(ctx context.Context, client *ent.Client, at time.Time, events []Event, msgs []WebhookMessage) error {
	if len(msgs) == 0 {
		return InsertEvents(ctx, client, at, events...)
	}
	hooks, err := subscribers(ctx, client, msgs)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		return InsertEvents(ctx, client, at, events...)
	}
	tx, err := client.Tx(ctx)
	switch {
	case errors.Is(err, ent.ErrTxStarted):
		return recordWithOutbox(ctx, client, at, events, msgs, hooks)
	case err != nil:
		return fmt.Errorf("authdb: record events: begin: %w", err)
	}
	if err := recordWithOutbox(ctx, tx.Client(), at, events, msgs, hooks); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("authdb: record events: commit: %w", err)
	}
	return nil
}

// subscribers maps each enabled webhook that wants one of msgs' types to the types it wants.
func subscribers(ctx context.Context, client *ent.Client, msgs []WebhookMessage) (map[int][]string, error) {
	type hook struct {
		id     int
		events []string
	}
	rows, err := scanRows(ctx, client, enabledWebhooks, []any{true}, func(r *sql.Rows) (h hook, err error) {
		var events sql.NullString
		if err := r.Scan(&h.id, &events); err != nil {
			return h, err
		}
		h.events, err = jsonStrings(events)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: read webhooks: %w", err)
	}
	out := map[int][]string{}
	for _, h := range rows {
		for _, m := range msgs {
			if slices.Contains(h.events, m.Type) {
				out[h.id] = h.events
				break
			}
		}
	}
	return out, nil
}

func recordWithOutbox(ctx context.Context, client *ent.Client, at time.Time, events []Event, msgs []WebhookMessage, hooks map[int][]string) error {
	if err := InsertEvents(ctx, client, at, events...); err != nil {
		return err
	}
	members, err := webhookMembers(ctx, client, msgs)
	if err != nil {
		return err
	}
	ids := make([]int, 0, len(hooks))
	for id := range hooks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	at = at.UTC()
	var args []any
	n := 0
	for _, m := range msgs {
		var payload []byte
		msgID := NewMessageID()
		for _, id := range ids {
			if !slices.Contains(hooks[id], m.Type) {
				continue
			}
			if payload == nil {
				if payload, err = webhookPayload(m, members, at); err != nil {
					return err
				}
			}
			args = append(args, at, at, id, m.Type, string(payload), msgID,
				webhookdelivery.StatusPENDING, 0, at)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := client.ExecContext(ctx, rows(deliveryInsert, deliveryRow, n), args...); err != nil {
		return fmt.Errorf("authdb: insert webhook deliveries: %w", err)
	}
	return nil
}

// webhookMembers reads the members msgs are about, by id, as their payloads show them.
func webhookMembers(ctx context.Context, client *ent.Client, msgs []WebhookMessage) (map[int]map[string]any, error) {
	var ids []any
	for _, m := range msgs {
		if m.UserID != 0 && !slices.Contains(ids, any(m.UserID)) {
			ids = append(ids, m.UserID)
		}
	}
	out := map[int]map[string]any{}
	if len(ids) == 0 {
		return out, nil
	}
	q := "SELECT " + quoteAll(webhookMemberColumns) + " FROM " + quote(user.Table) + " WHERE " + quote(user.FieldID) +
		" IN (" + placeholders(len(ids)) + ")"
	type row struct {
		id     int
		member map[string]any
	}
	found, err := scanRows(ctx, client, q, ids, func(r *sql.Rows) (row, error) {
		var (
			id                                  int
			ext                                 sql.NullString
			email, name, username, role, status string
		)
		if err := r.Scan(&id, &ext, &email, &name, &username, &role, &status); err != nil {
			return row{}, err
		}
		m := map[string]any{"id": strconv.Itoa(id), "externalId": nil, "email": email, "name": name,
			"username": username, "role": role, "status": status}
		if ext.Valid {
			m["externalId"] = ext.String
		}
		return row{id, m}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: read webhook members: %w", err)
	}
	for _, r := range found {
		out[r.id] = r.member
	}
	return out, nil
}

// webhookPayload is the body of m's deliveries: {"type", "timestamp", "data"}, data holding the
// member (when the message has one) and the message's own data.
func webhookPayload(m WebhookMessage, members map[int]map[string]any, at time.Time) ([]byte, error) {
	data := map[string]any{}
	for k, v := range m.Data {
		data[k] = v
	}
	if m.UserID != 0 {
		if mem, ok := members[m.UserID]; ok {
			data["member"] = mem
		} else {
			data["member"] = map[string]any{"id": strconv.Itoa(m.UserID)}
		}
	}
	buf, err := json.Marshal(map[string]any{"type": m.Type, "timestamp": at.Format(time.RFC3339Nano), "data": data})
	if err != nil {
		return nil, fmt.Errorf("authdb: webhook payload %s: %w", m.Type, err)
	}
	return buf, nil
}

// NewMessageID is a new webhook message id (the webhook-id header): "msg_" and 16 random bytes.
func NewMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "msg_" + base64.RawURLEncoding.EncodeToString(b)
}

// ClaimedDelivery is a delivery a worker holds: what it sends, and where.
type ClaimedDelivery struct {
	ID        int
	Event     string
	Payload   string
	MessageID string
	Attempts  int
	URL       string
	Secret    []byte // sealed
	Claim     string
}

// dueDeliveries selects the ids of the due deliveries, oldest due first (its arguments: the
// status PENDING, now, the limit); MySQL/MariaDB lock them and skip those another worker holds.
var dueDeliveries = "SELECT " + quote(webhookdelivery.FieldID) + " FROM " + quote(webhookdelivery.Table) +
	" WHERE " + quote(webhookdelivery.FieldStatus) + " = ? AND " + quote(webhookdelivery.FieldNextAttemptAt) + " <= ?" +
	" ORDER BY " + quote(webhookdelivery.FieldNextAttemptAt) + " LIMIT ?"

// skipLocked ends dueDeliveries on MySQL/MariaDB.
const skipLocked = " FOR UPDATE SKIP LOCKED"

// claimDeliveries takes the due rows among ids for a lease: the claim token, locked_until and
// next_attempt_at at the lease's end (so a worker that dies leaves them due again then).
var claimDeliveries = "UPDATE " + quote(webhookdelivery.Table) + " SET " +
	quote(webhookdelivery.FieldClaim) + " = ?, " + quote(webhookdelivery.FieldLockedUntil) + " = ?, " +
	quote(webhookdelivery.FieldNextAttemptAt) + " = ?, " + quote(webhookdelivery.FieldUpdatedAt) + " = ?" +
	" WHERE " + quote(webhookdelivery.FieldStatus) + " = ? AND " + quote(webhookdelivery.FieldNextAttemptAt) + " <= ? AND " +
	quote(webhookdelivery.FieldID) + " IN "

// claimedDeliveries reads what a claim holds, with its webhook's url and sealed secret.
var claimedDeliveries = "SELECT d." + quote(webhookdelivery.FieldID) + ", d." + quote(webhookdelivery.FieldEvent) +
	", d." + quote(webhookdelivery.FieldPayload) + ", d." + quote(webhookdelivery.FieldMessageID) + ", d." +
	quote(webhookdelivery.FieldAttempts) + ", w." + quote(webhook.FieldURL) +
	", w." + quote(webhook.FieldSecret) + " FROM " + quote(webhookdelivery.Table) + " AS d JOIN " + quote(webhook.Table) +
	" AS w ON w." + quote(webhook.FieldID) + " = d." + quote(webhookdelivery.FieldWebhookID) +
	" WHERE d." + quote(webhookdelivery.FieldClaim) + " = ? AND d." + quote(webhookdelivery.FieldID) + " IN "

// ClaimDeliveries claims at most limit due deliveries (PENDING, next attempt at or before now)
// for lease under a new random claim token, in one transaction: on MySQL/MariaDB the due rows
// are read FOR UPDATE SKIP LOCKED, so workers on other replicas take other rows; on SQLite the
// transaction holds the one writer. Their next attempt moves to the lease's end: a worker that
// dies holding them leaves them due again then, for any worker to claim.
func ClaimDeliveries(ctx context.Context, client *ent.Client, mysql bool, now time.Time, lease time.Duration, limit int) ([]ClaimedDelivery, error) {
	now = now.UTC()
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: claim deliveries: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	c := tx.Client()
	q := dueDeliveries
	if mysql {
		q += skipLocked
	}
	ids, err := scanRows(ctx, c, q, []any{webhookdelivery.StatusPENDING, now, limit}, func(r *sql.Rows) (any, error) {
		var id int
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: claim deliveries: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	token := NewMessageID()[4:]
	until := now.Add(lease)
	args := append([]any{token, until, until, now, webhookdelivery.StatusPENDING, now}, ids...)
	if _, err := c.ExecContext(ctx, claimDeliveries+"("+placeholders(len(ids))+")", args...); err != nil {
		return nil, fmt.Errorf("authdb: claim deliveries: %w", err)
	}
	claimed, err := scanRows(ctx, c, claimedDeliveries+"("+placeholders(len(ids))+")", append([]any{token}, ids...),
		func(r *sql.Rows) (ClaimedDelivery, error) {
			d := ClaimedDelivery{Claim: token}
			err := r.Scan(&d.ID, &d.Event, &d.Payload, &d.MessageID, &d.Attempts, &d.URL, &d.Secret)
			return d, err
		})
	if err != nil {
		return nil, fmt.Errorf("authdb: claim deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("authdb: claim deliveries: commit: %w", err)
	}
	return claimed, nil
}

// DeliveryOutcome is the result of one attempt: the next status, and when PENDING the time of
// the next attempt.
type DeliveryOutcome struct {
	Status       webhookdelivery.Status
	At           time.Time // when the attempt was made
	Next         time.Time // PENDING: the next attempt
	ResponseCode int       // 0: no response
	Error        string
}

var lastErrorSize = Size(migrate.WebhookDeliveriesTable, webhookdelivery.FieldLastError)

// FinishDelivery records the outcome of an attempt at d, if the worker still holds it (its claim
// token is still the row's: a worker whose lease ran out and whose row another worker took
// changes nothing). It reports whether the row was still held.
func FinishDelivery(ctx context.Context, client *ent.Client, d ClaimedDelivery, o DeliveryOutcome) (bool, error) {
	next := o.Next
	if o.Status != webhookdelivery.StatusPENDING {
		next = o.At
	}
	upd := client.WebhookDelivery.Update().
		Where(webhookdelivery.ID(d.ID), webhookdelivery.Claim(d.Claim)).
		SetStatus(o.Status).
		AddAttempts(1).
		SetNextAttemptAt(next.UTC()).
		SetLastAttemptAt(o.At.UTC()).
		SetLastError(Truncate(o.Error, lastErrorSize)).
		SetClaim("").
		ClearLockedUntil()
	if o.ResponseCode != 0 {
		upd.SetLastResponseCode(o.ResponseCode)
	} else {
		upd.ClearLastResponseCode()
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return false, fmt.Errorf("authdb: finish delivery: %w", err)
	}
	return n == 1, nil
}

// Redeliver makes delivery id due now again with a fresh count of attempts, keeping its message
// id; false when there is no such delivery.
func Redeliver(ctx context.Context, client *ent.Client, id int, now time.Time) (bool, error) {
	n, err := client.WebhookDelivery.Update().Where(webhookdelivery.ID(id)).
		SetStatus(webhookdelivery.StatusPENDING).SetAttempts(0).SetNextAttemptAt(now.UTC()).
		SetClaim("").ClearLockedUntil().Save(ctx)
	if err != nil {
		return false, fmt.Errorf("authdb: redeliver: %w", err)
	}
	return n == 1, nil
}
