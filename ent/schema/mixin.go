package schema

import (
	"crypto/sha256"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// datetime stores times on MySQL/MariaDB as DATETIME(6), not TIMESTAMP: a TIMESTAMP ends in
// 2038, before many an expiry a token or an admin may set.
var datetime = map[string]string{dialect.MySQL: "datetime(6)"}

// CreatedMixin adds an immutable created_at to an entity.
type CreatedMixin struct {
	mixin.Schema
}

// Fields of the CreatedMixin.
func (CreatedMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").SchemaType(datetime).
			Default(time.Now).
			Immutable().
			Annotations(
				entgql.OrderField("CREATED_AT"),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
			),
	}
}

// TimeMixin adds created_at and updated_at to an entity.
type TimeMixin struct {
	mixin.Schema
}

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return append(CreatedMixin{}.Fields(),
		field.Time("updated_at").SchemaType(datetime).
			Default(time.Now).
			UpdateDefault(time.Now).
			Annotations(
				entgql.OrderField("UPDATED_AT"),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
			),
	)
}

// sha256Column stores a SHA-256 on MySQL/MariaDB as BINARY(32): a fixed-size column whose unique
// index is a B-tree that answers `=`. (A Bytes field of 32 bytes is otherwise a TINYBLOB, whose
// unique index MariaDB builds as a hash of the whole value, USING HASH, which lookups cannot use:
// every SELECT or DELETE by the hash read the whole table.) SQLite keeps a BLOB with a normal
// unique index.
var sha256Column = map[string]string{dialect.MySQL: "binary(32)"}

// sha256Size is the validator of a sha256Column field: exactly 32 bytes, as BINARY(32) would
// pad a shorter value with zero bytes.
func sha256Size(b []byte) error {
	if len(b) != sha256.Size {
		return fmt.Errorf("value is %d bytes, want a SHA-256 of %d", len(b), sha256.Size)
	}
	return nil
}

// hidden is the annotation for secrets and hashes: not part of the GraphQL schema at all.
func hidden() entgql.Annotation { return entgql.Skip(entgql.SkipAll) }

// maxLen is a length validator for Text fields, whose column stays TEXT (MaxLen would turn it
// into a VARCHAR and a wide table past MySQL's row size limit).
func maxLen(n int) func(string) error {
	return func(s string) error {
		if len(s) > n {
			return fmt.Errorf("value is longer than %d bytes", n)
		}
		return nil
	}
}
