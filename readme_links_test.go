package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The README and the docs pages hang together: every docs page is one of docPages (whose blocks
// CI runs) or says in docPagesNotRun why not, has a title and an introduction, and is linked from
// the README; every link between them, and to the repository's files, resolves.

// markdownFiles returns the README and every Markdown file under docs/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{readmePath}, pages...)
}

// TestReadmeDocPages checks the docs pages: each is tested or says why not, opens with a title and
// a paragraph, and the README links it.
func TestReadmeDocPages(t *testing.T) {
	files := markdownFiles(t)
	for _, page := range docPages {
		if !slices.Contains(files, page) {
			t.Errorf("docPages lists %s, which does not exist", page)
		}
	}
	for page := range docPagesNotRun {
		if !slices.Contains(files, page) || slices.Contains(docPages, page) {
			t.Errorf("docPagesNotRun lists %s, which does not exist or is in docPages", page)
		}
	}
	linked := map[string]bool{}
	for _, l := range markdownLinks(t, readmePath) {
		linked[l.file] = true
	}
	for _, page := range files[1:] {
		if _, ok := docPagesNotRun[page]; !ok && !slices.Contains(docPages, page) {
			t.Errorf("%s is not in docPages: add it where the walkthrough runs its commands, so CI runs its blocks", page)
		}
		if !linked[page] {
			t.Errorf("%s does not link %s (its Documentation section links every page)", readmePath, page)
		}
		lines := strings.SplitN(readFile(t, page), "\n", 4)
		if len(lines) < 4 || !strings.HasPrefix(lines[0], "# ") || lines[1] != "" ||
			lines[2] == "" || strings.ContainsAny(lines[2][:1], "#`|-") {
			t.Errorf("%s does not open with a title (# ...) and a paragraph", page)
		}
	}
}

// TestReadmeLinks checks every relative link of the README and the docs pages: the file or folder
// it names exists, and its #anchor, if any, is a heading of that Markdown file (or of the page
// itself), as GitHub names headings.
func TestReadmeLinks(t *testing.T) {
	anchors := map[string][]string{}
	n := 0
	for _, file := range markdownFiles(t) {
		for _, l := range markdownLinks(t, file) {
			n++
			if _, err := os.Stat(l.file); err != nil {
				t.Errorf("%s:%d: the link %s names %s, which does not exist", file, l.line, l.target, l.file)
				continue
			}
			if l.anchor == "" {
				continue
			}
			if !strings.HasSuffix(l.file, ".md") {
				t.Errorf("%s:%d: the link %s has an anchor into a file that is not Markdown", file, l.line, l.target)
				continue
			}
			if _, ok := anchors[l.file]; !ok {
				anchors[l.file] = headingAnchors(t, l.file)
			}
			if !slices.Contains(anchors[l.file], l.anchor) {
				t.Errorf("%s:%d: the link %s: %s has no heading #%s", file, l.line, l.target, l.file, l.anchor)
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d relative links found", n)
	}
}

// mdLink is a relative link of a Markdown file.
type mdLink struct {
	line         int
	target       string // as written
	file, anchor string // the file it names, from the repository's root, and its anchor
}

var (
	linkTarget = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
	remoteLink = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`) // https:, mailto:, ...
)

// markdownLinks returns the relative links of the Markdown file at file: [text](target) outside
// code blocks and code spans, whose target has no scheme.
func markdownLinks(t *testing.T, file string) []mdLink {
	t.Helper()
	// Code spans may run over a line break: blank them out, keeping the lines.
	prose := codeSpan.ReplaceAllStringFunc(proseOnly(readFile(t, file)), func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\n' {
				return r
			}
			return ' '
		}, s)
	})
	var links []mdLink
	for _, m := range linkTarget.FindAllStringSubmatchIndex(prose, -1) {
		target := prose[m[2]:m[3]]
		if remoteLink.MatchString(target) {
			continue
		}
		p, anchor, _ := strings.Cut(target, "#")
		resolved := file
		if p != "" {
			resolved = path.Clean(path.Join(path.Dir(file), p))
		}
		links = append(links, mdLink{line: strings.Count(prose[:m[0]], "\n") + 1, target: target, file: resolved, anchor: anchor})
	}
	return links
}

// proseOnly blanks out the fenced code blocks of a Markdown text, keeping its lines.
func proseOnly(md string) string {
	lines := strings.Split(md, "\n")
	fenced := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			lines[i] = ""
		} else if fenced {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors returns the anchors GitHub gives the headings of the Markdown file at file: the
// heading lower-cased, without punctuation, spaces as hyphens; a repeated one gets -1, -2, ...
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	var anchors []string
	seen := map[string]int{}
	for _, l := range strings.Split(proseOnly(readFile(t, file)), "\n") {
		level := len(l) - len(strings.TrimLeft(l, "#"))
		if level == 0 || level > 6 || !strings.HasPrefix(l[level:], " ") {
			continue
		}
		slug := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
				return unicode.ToLower(r)
			}
			return -1
		}, strings.TrimSpace(l[level:]))
		if k := seen[slug]; k > 0 {
			anchors = append(anchors, fmt.Sprintf("%s-%d", slug, k))
		} else {
			anchors = append(anchors, slug)
		}
		seen[slug]++
	}
	return anchors
}
