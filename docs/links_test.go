// Package docs_test checks that the repository's documents point at files and
// sections that exist: a newcomer follows these links first.
package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// documents are the Markdown files a reader starts from, relative to the
// repository's root.
var documents = []string{
	"README.md",
	"docs/*.md",
	"examples/*.md",
	"deploy/*/*.md",
	"receiver/ebpftapreceiver/*.md",
	"cmd/*/*.md",
}

// link matches a Markdown inline link's target: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// heading matches a Markdown heading line.
var heading = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)

// TestLinks checks every relative link of the documents: its file exists,
// and its #fragment, if any, names a heading of that file.
func TestLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, pattern := range documents {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matches...)
	}
	if len(files) < 3 {
		t.Fatalf("found %d documents under %s; expected README.md, docs/ and more", len(files), root)
	}
	checked := 0
	for _, doc := range files {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, doc)
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue // external: not reachable from the tests
			}
			path, fragment, _ := strings.Cut(target, "#")
			dest := doc
			if path != "" {
				dest = filepath.Join(filepath.Dir(doc), path)
			}
			checked++
			info, err := os.Stat(dest)
			if err != nil {
				t.Errorf("%s: link %q: %v", rel, target, err)
				continue
			}
			if fragment == "" {
				continue
			}
			if info.IsDir() || filepath.Ext(dest) != ".md" {
				t.Errorf("%s: link %q: a #fragment on something other than a Markdown file", rel, target)
				continue
			}
			if !hasAnchor(t, dest, fragment) {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", rel, target, filepath.Base(dest), fragment)
			}
		}
	}
	t.Logf("%d relative links in %d documents", checked, len(files))
}

// hasAnchor reports whether the Markdown file at path has a heading whose
// GitHub anchor is fragment.
func hasAnchor(t *testing.T, path, fragment string) bool {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range heading.FindAllStringSubmatch(string(text), -1) {
		if anchor(m[1]) == fragment {
			return true
		}
	}
	return false
}

// anchor is GitHub's anchor for a heading: lower case, spaces to hyphens,
// punctuation other than hyphens and underscores dropped.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
