package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The marshallers of lists in generated.go call these two instead of gqlgen's
// graphql.MarshalSliceConcurrently, which starts a goroutine per element: the project's gqlgen
// plugin (gqlgen.go, sequentialFields) puts them there, marshalSliceInOrder for the lists whose
// elements reach no field that can block, marshalSliceMayBlock for the others. Both keep
// MarshalSliceConcurrently's signature, so the generated calls only change name.
var (
	_ func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array = graphql.MarshalSliceConcurrently
	_ func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array = marshalSliceInOrder
	_ func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array = marshalSliceMayBlock
)

// marshalSliceInOrder marshals the length elements of a list one after the other, on the
// calling goroutine, as graphql.MarshalSliceConcurrently does on a goroutine each: every element
// gets a field context holding its index, and a panic in one (unless omitPanicHandler) becomes
// that element's error, the other elements are still marshalled, and the list is null. There is
// nothing to bound, so workerLimit is not used.
func marshalSliceInOrder(ctx context.Context, length int, _ int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	// The elements' field contexts and indexes, allocated together rather than one by one.
	fcs, indexes := make([]graphql.FieldContext, length), make([]int, length)
	panicked := false
	for i := range length {
		indexes[i] = i
		fcs[i].Index = &indexes[i]
		childCtx := graphql.WithFieldContext(ctx, &fcs[i])
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					panicked = true
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	if panicked {
		return nil
	}
	return ret
}

// marshalSliceMayBlock marshals a list whose elements can reach a field that can block
// (fieldCanBlock): concurrently, with graphql.MarshalSliceConcurrently, when the query selects
// such a field under the list, so that its I/O overlaps across the elements; in order
// (marshalSliceInOrder) when it does not.
func marshalSliceMayBlock(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length > 1 && selectsBlockingField(ctx) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	return marshalSliceInOrder(ctx, length, workerLimit, omitPanicHandler, marshalElement)
}

// selectsBlockingField reports whether the selection of the field being marshalled (the nearest
// enclosing field, above the indexes of nested lists) reaches a field that can block. A
// selection it cannot place, for want of the definitions the validator records, counts as one.
func selectsBlockingField(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	for fc != nil && fc.Field.Field == nil {
		fc = fc.Parent
	}
	if fc == nil {
		return true
	}
	var seen []*ast.FragmentDefinition
	return reachesBlockingField(fc.Field.Selections, &seen)
}

// reachesBlockingField reports whether sel, with its fragments and sub-selections, selects a
// field that can block. Directives (@skip, @include) are not evaluated: a field they may leave
// out still counts. seen holds the fragments already walked, which selected none: each is walked
// once, however often it is spread.
func reachesBlockingField(sel ast.SelectionSet, seen *[]*ast.FragmentDefinition) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.ObjectDefinition == nil || fieldCanBlock(s.ObjectDefinition.Name, s.Name) || reachesBlockingField(s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if reachesBlockingField(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition == nil {
				return true
			}
			if slices.Contains(*seen, s.Definition) {
				continue
			}
			*seen = append(*seen, s.Definition)
			if reachesBlockingField(s.Definition.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}
