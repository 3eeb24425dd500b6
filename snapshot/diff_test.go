package snapshot

import (
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	e := func(path, content string, mode uint32) Entry {
		return Entry{Path: path, Mode: mode, Size: int64(len(content)), Hash: sha(content)}
	}
	old := NewManifest([]Entry{
		e("train.py", "v1", ModeFile),
		e("old.py", "old", ModeFile),
		e("run.sh", "run", ModeFile),
		e("same.txt", "same", ModeFile),
	})
	cur := NewManifest([]Entry{
		e("train.py", "v2", ModeFile),
		e("data/x.csv", "x", ModeFile),
		e("run.sh", "run", ModeExec),
		e("same.txt", "same", ModeFile),
	})
	c := Diff(old, cur)
	want := Change{
		Added:    []string{"data/x.csv"},
		Modified: []string{"run.sh", "train.py"},
		Removed:  []string{"old.py"},
	}
	if !slices.Equal(c.Added, want.Added) || !slices.Equal(c.Modified, want.Modified) || !slices.Equal(c.Removed, want.Removed) {
		t.Errorf("Diff = %+v, want %+v", c, want)
	}
	if got := c.String(); got != "run.sh modified, train.py modified, data/x.csv added, old.py removed" {
		t.Errorf("String() = %q", got)
	}
	if c.Empty() {
		t.Error("Empty() = true")
	}
	if d := Diff(old, old); !d.Empty() || d.String() != "no changes" {
		t.Errorf("Diff(m, m) = %+v, %q", d, d.String())
	}
	if d := Diff(nil, old); len(d.Added) != 4 {
		t.Errorf("Diff(nil, m) = %+v, want everything added", d)
	}
	if d := Diff(old, nil); len(d.Removed) != 4 {
		t.Errorf("Diff(m, nil) = %+v, want everything removed", d)
	}
	// Unsorted entries (a hand-made manifest) are compared all the same.
	shuffled := &Manifest{Entries: []Entry{cur.Entries[3], cur.Entries[0], cur.Entries[2], cur.Entries[1]}}
	if d := Diff(cur, shuffled); !d.Empty() {
		t.Errorf("Diff of reordered entries = %+v, want none", d)
	}
}

func TestChangeString(t *testing.T) {
	tests := []struct {
		c    Change
		want string
	}{
		{Change{}, "no changes"},
		{Change{Modified: []string{"a.py"}}, "a.py modified"},
		{Change{Removed: []string{"x"}}, "x removed"},
		{
			Change{Modified: []string{"train.py"}, Added: []string{"data/x.csv"}, Removed: []string{"old.py"}},
			"train.py modified, data/x.csv added, old.py removed",
		},
		{
			Change{Added: []string{"a", "b", "c", "d", "e"}},
			"a added, b added, c added, d added, e added",
		},
		{
			Change{Modified: []string{"m"}, Added: []string{"a", "b", "c", "d", "e", "f"}, Removed: []string{"r"}},
			"m modified, a added, b added, c added, d added and 3 more",
		},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.c, got, tt.want)
		}
	}
}
