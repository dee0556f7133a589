package graph

import (
	"context"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent"
	entwebhook "github.com/community/sso/ent/webhook"
	"github.com/community/sso/ent/webhookdelivery"
	"github.com/community/sso/graph/model"
)

// webhookURL checks a webhook's URL (webhook.CheckURL) as a BAD_USER_INPUT of field url.
func (r *Resolver) webhookURL(raw string) (string, error) {
	u, err := webhook.CheckURL(raw, r.WebhookAllowPrivate)
	if err != nil {
		return "", BadInput("url", "%s", strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return u, nil
}

// webhookEvents checks a webhook's events (webhook.CheckEvents) as a BAD_USER_INPUT of field events.
func webhookEvents(events []string) ([]string, error) {
	out, err := webhook.CheckEvents(events)
	if err != nil {
		return nil, BadInput("events", "%s", strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return out, nil
}

// recordWebhookChange writes a SETTINGS_CHANGED security event about webhook id.
func recordWebhookChange(ctx context.Context, client *ent.Client, id int, action string, detail map[string]any) error {
	e := auth.EventFor(ctx, auth.EventSettingsChanged)
	e.Detail = map[string]any{"webhookId": id, "action": action}
	for k, v := range detail {
		e.Detail[k] = v
	}
	return auth.Record(ctx, client, e)
}

// createWebhook registers a webhook with a new signing secret, sealed at rest and returned once.
func (r *Resolver) createWebhook(ctx context.Context, in model.CreateWebhookInput) (*model.CreatedWebhook, error) {
	u, err := r.webhookURL(in.URL)
	if err != nil {
		return nil, err
	}
	events, err := webhookEvents(in.Events)
	if err != nil {
		return nil, err
	}
	secret, text := webhook.NewSecret()
	client := ent.FromContext(ctx)
	create := client.Webhook.Create().SetURL(u).SetEvents(events).SetSecret(r.Sealer.Seal(webhook.PurposeSecret, secret))
	if in.Enabled != nil {
		create.SetEnabled(*in.Enabled)
	}
	w, err := create.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := recordWebhookChange(ctx, client, w.ID, "CREATE", map[string]any{"events": events}); err != nil {
		return nil, err
	}
	return &model.CreatedWebhook{Secret: text, Webhook: w}, nil
}

func (r *Resolver) updateWebhook(ctx context.Context, id int, in model.UpdateWebhookInput) (*ent.Webhook, error) {
	client := ent.FromContext(ctx)
	if _, err := client.Webhook.Get(ctx, id); ent.IsNotFound(err) {
		return nil, NotFound("webhook")
	} else if err != nil {
		return nil, err
	}
	upd := client.Webhook.UpdateOneID(id)
	var changed []string
	if in.URL != nil {
		u, err := r.webhookURL(*in.URL)
		if err != nil {
			return nil, err
		}
		upd.SetURL(u)
		changed = append(changed, "url")
	}
	if in.Events != nil {
		events, err := webhookEvents(in.Events)
		if err != nil {
			return nil, err
		}
		upd.SetEvents(events)
		changed = append(changed, "events")
	}
	if in.Enabled != nil {
		upd.SetEnabled(*in.Enabled)
		changed = append(changed, "enabled")
	}
	w, err := upd.Save(ctx)
	if err != nil {
		return nil, err
	}
	return w, recordWebhookChange(ctx, client, id, "UPDATE", map[string]any{"fields": changed})
}

func deleteWebhook(ctx context.Context, id int) (bool, error) {
	client := ent.FromContext(ctx)
	// Its deliveries go with it: the foreign key cascades (ent/schema/webhook.go).
	n, err := client.Webhook.Delete().Where(entwebhook.ID(id)).Exec(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	return true, recordWebhookChange(ctx, client, id, "DELETE", nil)
}

func (r *Resolver) redeliverWebhook(ctx context.Context, deliveryID int) (*ent.WebhookDelivery, error) {
	client := ent.FromContext(ctx)
	ok, err := authdb.Redeliver(ctx, client, deliveryID, r.now())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NotFound("webhook delivery")
	}
	d, err := client.WebhookDelivery.Get(ctx, deliveryID)
	if err != nil {
		return nil, err
	}
	return d, recordWebhookChange(ctx, client, d.WebhookID, "REDELIVER", map[string]any{"deliveryId": deliveryID})
}

func (r *Resolver) webhooks(ctx context.Context) ([]*ent.Webhook, error) {
	return r.Client.Webhook.Query().Order(ent.Asc(entwebhook.FieldID)).All(ctx)
}

func (r *Resolver) webhookDeliveries(ctx context.Context, webhookID int, first *int, after *entgql.Cursor[int], last *int, before *entgql.Cursor[int]) (*ent.WebhookDeliveryConnection, error) {
	first, last, err := pageSize(first, last)
	if err != nil {
		return nil, err
	}
	client := r.Client
	if exists, err := client.Webhook.Query().Where(entwebhook.ID(webhookID)).Exist(ctx); err != nil {
		return nil, err
	} else if !exists {
		return nil, NotFound("webhook")
	}
	return client.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(webhookID)).
		Paginate(ctx, after, first, before, last)
}
