package overlap_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/community/sso/graph/internal/overlap"
)

// spec is graphql-js's tests of the rule, as gqlparser imports them (testdata/spec.json).
type spec struct {
	Schemas []string `json:"schemas"`
	Cases   []struct {
		Name   string `json:"name"`
		Schema int    `json:"schema"`
		Query  string `json:"query"`
	} `json:"cases"`
}

func loadSpec(t *testing.T) (spec, []*ast.Schema) {
	t.Helper()
	b, err := os.ReadFile("testdata/spec.json")
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	schemas := make([]*ast.Schema, len(s.Schemas))
	for i, src := range s.Schemas {
		if schemas[i], err = gqlparser.LoadSchema(&ast.Source{Input: src, Name: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return s, schemas
}

// errorsOf validates query with the one rule and returns its messages with their positions,
// sorted and without repeats.
func errorsOf(t *testing.T, schema *ast.Schema, query string, rule core.Rule) []string {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range validator.ValidateWithRules(schema, doc, rules.NewRules(rule)) {
		out = append(out, fmt.Sprintf("%s %v", e.Message, e.Locations))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestSameAsUpstream runs every case of graphql-js's suite for the rule through this copy and
// through gqlparser's: both report the same conflicts at the same places.
func TestSameAsUpstream(t *testing.T) {
	s, schemas := loadSpec(t)
	if len(s.Cases) < 40 {
		t.Fatalf("only %d cases in testdata/spec.json", len(s.Cases))
	}
	conflicts := 0
	for _, c := range s.Cases {
		t.Run(c.Name, func(t *testing.T) {
			want := errorsOf(t, schemas[c.Schema], c.Query, rules.OverlappingFieldsCanBeMergedRule)
			got := errorsOf(t, schemas[c.Schema], c.Query, overlap.OverlappingFieldsCanBeMerged)
			if !slices.Equal(got, want) {
				t.Fatalf("errors differ\n got: %q\nwant: %q", got, want)
			}
			if len(want) > 0 {
				conflicts++
			}
		})
	}
	if conflicts < 15 {
		t.Fatalf("only %d cases report a conflict: the suite did not run as meant", conflicts)
	}
}

// TestBounded: documents that cost the upstream rule n² comparisons cost this one n for
// identical fields, and at most the budget otherwise, reported once.
func TestBounded(t *testing.T) {
	_, schemas := loadSpec(t)
	schema := schemas[0]
	const budgetMsg = "The document is too complex to validate"
	repeat := func(s string, n int) string { return strings.Repeat(s+" ", n) }
	for _, tc := range []struct {
		name, query string
		wantBudget  bool
		wantOthers  bool // conflicts reported besides the budget message (at most MaxConflicts)
	}{
		{"60,000 identical fields", "{ dog { " + repeat("name", 60000) + "} }", false, false},
		{"60,000 identical aliased fields with arguments", "{ dog { " + repeat("n: name(surname: true)", 60000) + "} }", false, false},
		{"5,000 spreads of one fragment", "{ dog { " + repeat("...F", 5000) + "} } fragment F on Dog { name }", false, false},
		{"identical fields inside inline fragments", "{ dog { " + repeat("... on Dog { name }", 20000) + "} }", false, false},
		{"1,000 same-named fields with sub-selections", "{ dog { " + repeat("m: mother { name } m: mother { nickname }", 500) + "} }", true, false},
		{"1,000 same-named fields with differing arguments", "{ dog { " + func() string {
			var b strings.Builder
			for i := range 1000 {
				fmt.Fprintf(&b, "n: isAtLocation(x: %d) ", i)
			}
			return b.String()
		}() + "} }", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := errorsOf(t, schema, tc.query, overlap.OverlappingFieldsCanBeMerged)
			budget, others := 0, 0
			for _, e := range errs {
				if strings.HasPrefix(e, budgetMsg) {
					budget++
				} else {
					others++
				}
			}
			if (budget == 1) != tc.wantBudget || budget > 1 || (others > 0) != tc.wantOthers || others > overlap.MaxConflicts {
				t.Fatalf("budget messages %d, other errors %d: %.300q", budget, others, errs[:min(len(errs), 3)])
			}
		})
	}
}
