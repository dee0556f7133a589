package graph

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/community/sso/auth/profile"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/graph/model"
)

// fieldDefinition validates a profile field's attributes as they will be after a create or update.
func fieldDefinition(ctx context.Context, client *ent.Client, self int, key, name string, typ profilefield.Type, options, externalKeys []string) error {
	if err := profile.Key(key); err != nil {
		return BadInput("key", "key %q must start with a letter and hold only a-z, 0-9 and _ (at most 64)", key)
	}
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return BadInput("name", "name must be 1 to 200 characters")
	}
	if typ == profilefield.TypeSELECT {
		if len(options) == 0 {
			return BadInput("options", "a SELECT field needs options")
		}
		for i, o := range options {
			if strings.TrimSpace(o) == "" || len(o) > 200 || slices.Contains(options[:i], o) {
				return BadInput("options", "options must be unique and 1 to 200 characters")
			}
		}
	} else if len(options) > 0 {
		return BadInput("options", "only SELECT fields have options")
	}
	if err := profile.ExternalKeys(externalKeys); err != nil {
		return BadInput("externalKeys", "%s", strings.TrimPrefix(err.Error(), profile.ErrInvalid.Error()+": "))
	}
	other, err := client.ProfileField.Query().Where(profilefield.Key(key), profilefield.IDNEQ(self)).First(ctx)
	if err == nil {
		return &Error{Code: CodeConflict, Message: fmt.Sprintf("another profile field already has the key %q", key),
			Extensions: map[string]any{"field": "key", "conflictingProfileFieldId": strconv.Itoa(other.ID)}}
	}
	if !ent.IsNotFound(err) {
		return err
	}
	return nil
}

func createProfileField(ctx context.Context, in model.CreateProfileFieldInput) (*ent.ProfileField, error) {
	client := ent.FromContext(ctx)
	if err := fieldDefinition(ctx, client, 0, in.Key, in.Name, in.Type, in.Options, in.ExternalKeys); err != nil {
		return nil, err
	}
	return client.ProfileField.Create().
		SetKey(in.Key).SetName(strings.TrimSpace(in.Name)).SetType(in.Type).
		SetOptions(in.Options).SetExternalKeys(in.ExternalKeys).
		Save(ctx)
}

// updateProfileField changes a field. A new key is carried to the stored values; a new type or
// new options are refused while members hold values they would make invalid.
func updateProfileField(ctx context.Context, id int, in model.UpdateProfileFieldInput) (*ent.ProfileField, error) {
	client := ent.FromContext(ctx)
	pf, err := client.ProfileField.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("profile field")
	}
	if err != nil {
		return nil, err
	}
	key, name, typ, options, ext := pf.Key, pf.Name, pf.Type, pf.Options, pf.ExternalKeys
	if in.Key != nil {
		key = *in.Key
	}
	if in.Name != nil {
		name = *in.Name
	}
	if in.Type != nil {
		typ = *in.Type
		if typ != profilefield.TypeSELECT && in.Options == nil {
			options = nil
		}
	}
	if in.Options != nil {
		options = in.Options
	}
	if in.ExternalKeys != nil {
		ext = in.ExternalKeys
	}
	if err := fieldDefinition(ctx, client, id, key, name, typ, options, ext); err != nil {
		return nil, err
	}
	if typ != pf.Type || !slices.Equal(options, pf.Options) {
		values, err := client.ProfileFieldValue.Query().Where(profilefieldvalue.FieldIDEQ(id)).All(ctx)
		if err != nil {
			return nil, err
		}
		bad := 0
		for _, v := range values {
			if _, err := profile.Value(typ, options, v.Value); err != nil {
				bad++
			}
		}
		if bad > 0 {
			return nil, BadInput("type", "%d member values would not be valid for the new type or options; clear or change them first", bad)
		}
	}
	if key != pf.Key {
		if err := client.ProfileFieldValue.Update().Where(profilefieldvalue.FieldIDEQ(id)).SetKey(key).Exec(ctx); err != nil {
			return nil, err
		}
	}
	return pf.Update().SetKey(key).SetName(strings.TrimSpace(name)).SetType(typ).
		SetOptions(options).SetExternalKeys(ext).Save(ctx)
}

func deleteProfileField(ctx context.Context, id int) (bool, error) {
	client := ent.FromContext(ctx)
	if err := client.ProfileField.DeleteOneID(id).Exec(ctx); ent.IsNotFound(err) {
		return false, NotFound("profile field")
	} else if err != nil {
		return false, err
	}
	return true, nil
}
