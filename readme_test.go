package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/store/storetest"
)

// The README and the pages under docs/ are tested: every command and operation in them runs
// somewhere. The pages are read in a fixed order, docPages: the README, then the docs pages in
// the order docs/walkthrough.sh runs their commands.
//
//   - ```sh blocks: every command is run by docs/walkthrough.sh (which .ci/run runs after the
//     tests), by .ci/run itself or by .ci/image-check (which .ci/run runs too); each block's
//     commands in the block's order, and each page's commands in the walkthrough after those of
//     the pages before it; but podman and docker commands (readmeContainerRuntimes);
//   - ```graphql blocks: run here, page after page and in order, as the walkthrough's admin,
//     against a community like the one the walkthrough leaves behind; a ```json block right after
//     one is its variables. A block answers no error unless its first line says
//     "# error: CODE (extensions: key "value")";
//   - other ```json blocks are answers the walkthrough shows: docs/walkthrough.sh checks each line;
//   - the ```js blocks are docs/examples/sign.js, docs/examples/sign-keys.js and
//     docs/examples/app.js, which the walkthrough runs;
//   - the ```html block is the host page of docs/EMBEDDING.md, which TestBrowserEmbedding serves.
//
// Plain ``` blocks are sample output for the eye only. Any other block language fails the test, so
// nothing unverified slips in. A docs page that is in neither docPages nor docPagesNotRun fails
// TestReadmeDocPages, so a new page cannot slip past these tests either.

const (
	readmePath      = "README.md"
	walkthroughPath = "docs/walkthrough.sh"
	ciRunPath       = ".ci/run"
	imageCheckPath  = ".ci/image-check"
	signExamplePath = "docs/examples/sign.js"
	appExamplePath  = "docs/examples/app.js"
	keysExamplePath = "docs/examples/sign-keys.js"
	embeddingPath   = "docs/EMBEDDING.md"
)

// docPages are the Markdown files whose blocks CI runs, in the order docs/walkthrough.sh runs
// their shell commands and TestReadmeGraphQL their GraphQL operations.
var docPages = []string{
	readmePath,
	"docs/CONFIGURATION.md",
	"docs/PROVIDERS.md",
	"docs/JWT_KEYS.md",
	"docs/API.md",
	"docs/OPERATIONS.md",
	"docs/SECURITY.md",
	"docs/DEVELOPMENT.md",
	embeddingPath,
	"docs/WEBHOOKS.md",
}

// docPagesNotRun are the docs pages whose blocks no CI step runs, and why.
var docPagesNotRun = map[string]string{
	"docs/SCALING.md":     "its mariadbd command is the setup storetest.Galera runs, with ports chosen at run time; the Galera tests (TestGalera, ent/store's TestGalera*) run it under .ci/run",
	"docs/PERFORMANCE.md": "its commands reproduce the measurements (benchmarks and the load test, minutes each); .ci/run runs the load test and a short scale benchmark itself",
}

// readmeRunByCI are commands that need no other runner: CI runs them to run anything.
var readmeRunByCI = map[string]string{
	"bash .ci/run": "CI's own entry point",
}

// readmeContainerRuntimes are the commands that start a container: no runtime can run one on the
// CI machine (no cgroup controller to give it), so the run example of docs/OPERATIONS.md is not
// run; .ci/image-check starts the server from the image's root filesystem, as the image says,
// instead.
var readmeContainerRuntimes = []string{"podman ", "docker "}

// mdBlock is one fenced code block of a Markdown file.
type mdBlock struct {
	path       string // the file it is in
	lang       string
	text       string
	start, end int // 1-based lines of the opening and closing fences
}

// at names the block's place for a test message.
func (b mdBlock) at() string { return fmt.Sprintf("%s:%d", b.path, b.start) }

// follows reports whether b is the block right after prev: same file, one blank line between.
func (b mdBlock) follows(prev mdBlock) bool { return b.path == prev.path && b.start == prev.end+2 }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fencedBlocks returns the ``` blocks of the Markdown file at path.
func fencedBlocks(t *testing.T, path string) []mdBlock {
	t.Helper()
	var blocks []mdBlock
	var cur *mdBlock
	var body []string
	for i, line := range strings.Split(readFile(t, path), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &mdBlock{path: path, lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), start: i + 1}
			body = nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.end = i + 1
			cur.text = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	if cur != nil {
		t.Fatalf("%s: the block opened on line %d is not closed", path, cur.start)
	}
	return blocks
}

// docBlocks returns the blocks of every page of docPages, in order.
func docBlocks(t *testing.T) []mdBlock {
	t.Helper()
	var blocks []mdBlock
	for _, page := range docPages {
		blocks = append(blocks, fencedBlocks(t, page)...)
	}
	return blocks
}

// graphqlVariables returns the variables of the graphql block blocks[i]: the json block right
// after it, if any.
func graphqlVariables(t *testing.T, blocks []mdBlock, i int) map[string]any {
	t.Helper()
	if i+1 >= len(blocks) || blocks[i+1].lang != "json" || !blocks[i+1].follows(blocks[i]) {
		return nil
	}
	var vars map[string]any
	if err := json.Unmarshal([]byte(blocks[i+1].text), &vars); err != nil {
		t.Fatalf("%s: the variables are not a JSON object: %v", blocks[i+1].at(), err)
	}
	return vars
}

// shellCommands splits shell text into commands: lines ending in a backslash joined with the
// next, comments and blank lines dropped, spaces trimmed.
func shellCommands(text string) []string {
	var cmds []string
	pending := ""
	for _, line := range strings.Split(text, "\n") {
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSpace(strings.TrimSuffix(line, "\\")) + " "
			continue
		}
		cmd := strings.TrimSpace(stripComment(pending + strings.TrimSpace(line)))
		pending = ""
		if cmd != "" {
			cmds = append(cmds, cmd)
		}
	}
	return cmds
}

// stripComment cuts a shell comment: a # that starts a word outside quotes.
func stripComment(s string) string {
	var single, double bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && !single:
			i++
		case c == '\'' && !double:
			single = !single
		case c == '"' && !single:
			double = !double
		case c == '#' && !single && !double && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}

var (
	trailingRedirect = regexp.MustCompile(`\s+(?:\d?>>?|&>)\s*(?:"[^"]*"|'[^']*'|[^\s"'&|;]+)$`)
	trailingDup      = regexp.MustCompile(`\s+\d?>&\d$`)
)

// runnable drops what only decides where a command's output goes or whether it runs in the
// background: trailing redirections and a trailing &. The script may send the output of a page's
// command to a file it checks, or start a server in the background.
func runnable(cmd string) string {
	for {
		before := cmd
		cmd = strings.TrimSpace(cmd)
		if strings.HasSuffix(cmd, "&") && !strings.HasSuffix(cmd, "&&") {
			cmd = strings.TrimSpace(strings.TrimSuffix(cmd, "&"))
		}
		cmd = trailingDup.ReplaceAllString(cmd, "")
		cmd = trailingRedirect.ReplaceAllString(cmd, "")
		if cmd == before {
			return cmd
		}
	}
}

func runnables(text string) []string {
	var out []string
	for _, c := range shellCommands(text) {
		out = append(out, runnable(c))
	}
	return out
}

// TestReadmeShellCommands checks that every command of the pages' sh blocks is run by
// docs/walkthrough.sh, .ci/run or .ci/image-check, the walkthrough running the pages in the order
// of docPages, and that CI runs the two scripts.
func TestReadmeShellCommands(t *testing.T) {
	script := runnables(readFile(t, walkthroughPath))
	ci := runnables(readFile(t, ciRunPath))
	for _, path := range []string{walkthroughPath, imageCheckPath} {
		if !slices.Contains(ci, "bash "+path) {
			t.Errorf("%s does not run %q", ciRunPath, "bash "+path)
		}
	}
	ci = append(ci, runnables(readFile(t, imageCheckPath))...)
	n := 0
	before := -1 // the last line of the script that runs a command of the pages before this one
	for _, page := range docPages {
		last := before
		for _, b := range fencedBlocks(t, page) {
			if b.lang != "sh" {
				continue
			}
			at := before // where the block's previous command was found in the script
			for _, cmd := range runnables(b.text) {
				n++
				if _, ok := readmeRunByCI[cmd]; ok {
					continue
				}
				i := indexFrom(script, cmd, at+1)
				switch {
				case i >= 0:
					at, last = i, max(last, i)
				case indexFrom(script, cmd, before+1) >= 0:
					t.Errorf("%s: %s runs\n\t%s\nbefore the command above it in the block", b.at(), walkthroughPath, cmd)
				case indexFrom(script, cmd, 0) >= 0:
					t.Errorf("%s: %s runs\n\t%s\nbefore the commands of the pages before %s (docPages: %s)", b.at(), walkthroughPath, cmd, page, strings.Join(docPages, ", "))
				case slices.Contains(ci, cmd):
				case slices.ContainsFunc(readmeContainerRuntimes, func(p string) bool { return strings.HasPrefix(cmd, p) }):
				default:
					t.Errorf("%s: no test or CI step runs\n\t%s\n(add it, as written, to %s)", b.at(), cmd, walkthroughPath)
				}
			}
		}
		before = last
	}
	if n < 45 {
		t.Fatalf("only %d shell commands found in %s", n, strings.Join(docPages, ", "))
	}
}

func indexFrom(list []string, s string, from int) int {
	for i := from; i < len(list); i++ {
		if list[i] == s {
			return i
		}
	}
	return -1
}

// TestReadmeSnippets checks the pages' other blocks: the Node.js examples are the files the
// walkthrough runs, each shown once, the JSON answers are the ones the walkthrough checks, and no block is of a
// language nothing verifies.
func TestReadmeSnippets(t *testing.T) {
	blocks := docBlocks(t)
	scriptLines := map[string]bool{}
	for _, l := range strings.Split(readFile(t, walkthroughPath), "\n") {
		scriptLines[l] = true
	}
	examples := map[string]int{} // the example files' text → how many js blocks show it
	for _, path := range []string{signExamplePath, keysExamplePath, appExamplePath} {
		examples[readFile(t, path)] = 0
	}
	js, html, answers := 0, 0, 0
	for i, b := range blocks {
		switch b.lang {
		case "sh", "graphql", "":
		case "js":
			js++
			if _, ok := examples[b.text]; !ok {
				t.Errorf("%s: the js block is none of %s, %s and %s, which the walkthrough runs", b.at(), signExamplePath, keysExamplePath, appExamplePath)
				continue
			}
			examples[b.text]++
		case "html":
			html++
			if b.path != embeddingPath {
				t.Errorf("%s: an html block: only %s's host page is verified (TestBrowserEmbedding serves it)", b.at(), embeddingPath)
			}
		case "json":
			if i > 0 && blocks[i-1].lang == "graphql" && b.follows(blocks[i-1]) {
				continue // variables, run with their operation by TestReadmeGraphQL
			}
			for _, l := range strings.Split(strings.TrimSpace(b.text), "\n") {
				answers++
				if !scriptLines[l] {
					t.Errorf("%s: %s does not check the answer\n\t%s", b.at(), walkthroughPath, l)
				}
			}
		default:
			t.Errorf("%s: a %q block: nothing verifies it (use sh, graphql, json, js or the embedding page's html)", b.at(), b.lang)
		}
	}
	for text, n := range examples {
		if n != 1 {
			t.Errorf("%d js blocks show the example that starts %q, want 1", n, strings.SplitN(text, "\n", 2)[0])
		}
	}
	if js != 3 || html != 1 || answers < 10 {
		t.Fatalf("found %d js blocks, %d html blocks and %d JSON answers in %s", js, html, answers, strings.Join(docPages, ", "))
	}
}

// expectedError reads the "# error: CODE (extensions: key "value", ...)" line of a graphql block.
var expectedError = regexp.MustCompile(`^#\s*error:\s*([A-Z_]+)(.*)$`)
var extensionPair = regexp.MustCompile(`(\w+) "([^"]*)"`)

// TestReadmeGraphQL runs every graphql block of the pages, in order, as the admin of a community
// set up like the one the walkthrough leaves behind.
func TestReadmeGraphQL(t *testing.T) {
	blocks := docBlocks(t)
	ctx := context.Background()
	db := storetest.SQLite(t)
	app := newApp(t, db, nil)

	// The walkthrough's community: the bootstrap admin, then Kim, Pat and Sam as their sign-ins
	// made them, and JWT SSO on. The pages name their ids.
	owner, err := auth.BootstrapAdmin(ctx, db.Client, "owner@example.com", "choose-a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{owner.ID}
	for _, m := range []struct{ ext, email, name, username string }{
		{"1003", "kim@example.com", "Kim Park", "kim"},
		{"cust-1001", "pat@example.com", "Pat Doe", "pat"},
		{"cust-1002", "sam@example.com", "Sam Lee", "sam"},
	} {
		u := db.Client.User.Create().SetExternalID(m.ext).SetEmail(m.email).SetName(m.name).SetUsername(m.username).SaveX(ctx)
		ids = append(ids, u.ID)
	}
	if want := []int{38654705665, 38654705666, 38654705667, 38654705668}; !slices.Equal(ids, want) {
		t.Fatalf("the users' ids are %v, the examples use %v", ids, want)
	}
	token, _, err := auth.NewAPIToken(ctx, db.Client, owner, "readme", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := app.gql(nil, token, `mutation { regenerateJwtSsoSecret }`, nil); r.Code() != "" {
		t.Fatal(r.Raw)
	}
	if r := app.gql(nil, token, `mutation { updateJwtSsoSettings(input: {enabled: true, loginButtonText: "Sign in with Example", authorizationUrl: "https://www.example.com/community-login"}) { jwtSso { enabled } } }`, nil); r.Code() != "" {
		t.Fatal(r.Raw)
	}

	n := 0
	for i, b := range blocks {
		if b.lang != "graphql" {
			continue
		}
		n++
		vars := graphqlVariables(t, blocks, i)
		wantCode, wantExt := "", map[string]string{}
		if m := expectedError.FindStringSubmatch(strings.SplitN(b.text, "\n", 2)[0]); m != nil {
			wantCode = m[1]
			for _, p := range extensionPair.FindAllStringSubmatch(m[2], -1) {
				wantExt[p[1]] = p[2]
			}
		}
		r := app.gql(nil, token, b.text, vars)
		if wantCode == "" {
			if len(r.Errors) > 0 || r.Status != 200 || len(r.Data) == 0 {
				t.Errorf("%s: the operation failed (%d): %s", b.at(), r.Status, r.Raw)
			}
			continue
		}
		if r.Code() != wantCode {
			t.Errorf("%s: want error %s, got: %s", b.at(), wantCode, r.Raw)
			continue
		}
		for k, v := range wantExt {
			if got := r.Errors[0].Extensions[k]; got != v {
				t.Errorf("%s: extensions.%s = %v, want %q", b.at(), k, got, v)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d graphql blocks found in %s", n, strings.Join(docPages, ", "))
	}
}
