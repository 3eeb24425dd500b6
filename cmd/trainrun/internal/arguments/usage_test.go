package arguments

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestUsageListsFlags: each command's usage line names every flag it
// takes (no "[flags]" to hide them behind), so that a user reading it
// learns all of them.
func TestUsageListsFlags(t *testing.T) {
	for _, c := range Commands() {
		words := regexp.MustCompile(`-[a-z][a-z-]*`).FindAllString(c.Args, -1)
		named := map[string]bool{}
		for _, w := range words {
			named[strings.TrimPrefix(w, "-")] = true
		}
		if strings.Contains(c.Args, "[flags]") {
			t.Errorf("%s: usage %q says [flags] instead of naming them", c.Name, c.Args)
		}
		for _, f := range Flags(c.Name) {
			if !named[f.Name] {
				t.Errorf("%s: usage %q does not name -%s", c.Name, c.Args, f.Name)
			}
			delete(named, f.Name)
		}
		for w := range named {
			t.Errorf("%s: usage %q names -%s, which it does not take", c.Name, c.Args, w)
		}
	}
}

// TestCommandsDocListsFlags: docs/commands.md documents every flag of
// every command, in the section whose heading names the command.
func TestCommandsDocListsFlags(t *testing.T) {
	b, err := os.ReadFile("../../../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{} // command → the text of the sections naming it
	for _, sec := range strings.Split("\n"+string(b), "\n## ")[1:] {
		heading, body, _ := strings.Cut(sec, "\n")
		for _, w := range regexp.MustCompile(`[a-z]+`).FindAllString(strings.ToLower(heading), -1) {
			sections[w] += body
		}
	}
	for _, c := range Commands() {
		body, ok := sections[c.Name]
		if !ok {
			t.Errorf("docs/commands.md has no section for %s", c.Name)
			continue
		}
		for _, f := range Flags(c.Name) {
			if !regexp.MustCompile(`-` + regexp.QuoteMeta(f.Name) + `\b`).MatchString(body) {
				t.Errorf("docs/commands.md: the section of %s does not mention -%s", c.Name, f.Name)
			}
		}
	}
}

// TestReadmeListsCommands: the README's table of commands has every
// command.
func TestReadmeListsCommands(t *testing.T) {
	b, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Commands() {
		if !strings.Contains(string(b), "| `trainrun "+c.Name) {
			t.Errorf("README.md's table of commands lacks %s", c.Name)
		}
	}
}
