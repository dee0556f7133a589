package graph

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/community/sso/ent/store"
)

// A transaction that loses a lock conflict (store.IsDeadlock: a deadlock, a lock wait timeout,
// or on Galera a write set that lost certification to another node's, which fails its commit
// with 1213) is run again, the whole operation, rather than answered with an internal error:
// the error presenter and the transactioner mark the request busy, and retryBusy, around the
// executor, throws the answer away and runs the operation again, up to busyAttempts times.

// busyAttempts bounds the runs of one operation that keeps losing lock conflicts: with the
// backoff (at most busyBase·32 between runs) about two seconds of tries, enough for dozens of
// writers of one row on a Galera cluster, each commit of which another node's may beat.
const busyAttempts = 10

// busyBase is the base of the backoff between runs (store.Backoff).
const busyBase = 10 * time.Millisecond

type busyKey struct{}

// busyState tells retryBusy that the run lost a lock conflict.
type busyState struct{ busy atomic.Bool }

// markBusy marks the request's run as one that lost a lock conflict.
func markBusy(ctx context.Context) {
	if st, ok := ctx.Value(busyKey{}).(*busyState); ok {
		st.busy.Store(true)
	}
}

// retryBusy runs next again when a run lost a lock conflict and attempts are left: the lost
// run's answer is not written (the writer drops it), the next run's is.
func retryBusy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		for attempt := 1; ; attempt++ {
			st := &busyState{}
			bw := &busyWriter{ResponseWriter: w, st: st, last: attempt == busyAttempts}
			next.ServeHTTP(bw, r.WithContext(context.WithValue(ctx, busyKey{}, st)))
			if !bw.dropped {
				return
			}
			if !store.Wait(ctx, store.Backoff(attempt, busyBase)) {
				// The request ended while waiting (its deadline, or the client went away).
				WriteError(w, http.StatusServiceUnavailable, CodeServiceUnavailable, "the request was cancelled or timed out")
				return
			}
		}
	})
}

// busyWriter passes the answer through unless its run lost a lock conflict and another run is
// left, when it drops it.
type busyWriter struct {
	http.ResponseWriter
	st      *busyState
	last    bool
	dropped bool
	wrote   bool
}

func (b *busyWriter) drop() bool {
	if !b.wrote && !b.dropped && !b.last && b.st.busy.Load() {
		b.dropped = true
	}
	b.wrote = true
	return b.dropped
}

func (b *busyWriter) WriteHeader(code int) {
	if !b.drop() {
		b.ResponseWriter.WriteHeader(code)
	}
}

func (b *busyWriter) Write(p []byte) (int, error) {
	if b.drop() {
		return len(p), nil
	}
	return b.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (b *busyWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// transactioner is entgql.Transactioner whose commit failure, when it is a lost lock conflict,
// marks the request busy (entgql's reports only the error's text).
type transactioner struct{ entgql.Transactioner }

// InterceptResponse implements graphql.ResponseInterceptor.
func (t transactioner) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation != ast.Mutation || (t.SkipTxFunc != nil && t.SkipTxFunc(op)) {
		return next(ctx)
	}
	txCtx, tx, err := t.OpenTx(ctx)
	if err != nil {
		if store.IsDeadlock(err) {
			markBusy(ctx)
		}
		return graphql.ErrorResponse(ctx, "cannot create transaction: %s", err.Error())
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	rsp := next(txCtx)
	if len(rsp.Errors) > 0 {
		_ = tx.Rollback()
		return &graphql.Response{Errors: rsp.Errors}
	}
	if err := tx.Commit(); err != nil {
		if store.IsDeadlock(err) {
			markBusy(ctx)
		}
		return graphql.ErrorResponse(ctx, "cannot commit transaction: %s", err.Error())
	}
	return rsp
}
