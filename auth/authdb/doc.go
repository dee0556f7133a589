// Package authdb is the database side of signing in. It holds the statements a sign-in sends
// as fixed SQL rather than through ent's builders: the member lookups, the spaces and profile
// fields read with the member's memberships and values, the session INSERT, the login-time
// UPDATE, the security events INSERT and the settings a JWT SSO login reads. Every login sends
// them; ent rebuilt each one on every call and scanned its rows by reflection, which cost as
// much as running them or more (docs/PERFORMANCE.md). It also holds, through ent, the login's
// other reads and writes: the member (CreateMember, UpdateMember, SetMemberRole, Member), the
// username lookups (UsernameTaken, DigitSuffixedUsernames), its space memberships
// (WriteMemberships), the one writer of members' profile field values (WriteFieldValues, for
// GraphQL and single sign-on too), the settings row (FirstSettings, CreateSettings), the
// sessions and API tokens a request is signed in with (SessionByToken, APITokenByToken, their
// touches, TakeSession, EndSession, EndMemberSessions), the JWT SSO replay markers
// (UseReplayMarker), the direct-login throttle's counters (ReadCounter, InsertCounter,
// SwapCounter, …) and the webhook outbox: its rows, written with the security events that
// make them (RecordEvents), and the delivery workers' claims and outcomes (ClaimDeliveries,
// FinishDelivery, Redeliver). Provisioning, the sessions and the throttle decide; this package reads and
// writes.
//
// No other package of the login path holds SQL. Each statement is built from ent's generated
// table and column names and sized by ent's generated schema (Fit), so a renamed column fails
// to compile and a changed limit follows the schema; the tests run each one on SQLite and
// MySQL/MariaDB against the ent query it stands for (the same rows in, the same rows out), and
// fail when the schema gains a column an INSERT does not write. The text uses backquoted
// identifiers and ? placeholders, which both databases read alike. Rows are read into ent's
// own types (ent.User, ent.Settings): there is one model of a member.
package authdb
