package plural

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		noun string
		want string
	}{
		{0, "file", "0 files"},
		{1, "file", "1 file"},
		{2, "file", "2 files"},
		{1, "run directory", "1 run directory"},
		{3, "run directory", "3 run directories"},
		{2, "key", "2 keys"},
		{1, "GPU", "1 GPU"},
		{2, "GPU", "2 GPUs"},
		{0, "CPU", "0 CPUs"},
		{2, "process", "2 processes"},
		{2, "match", "2 matches"},
		{2, "environment", "2 environments"},
		{4, "instance", "4 instances"},
		{-1, "point", "-1 point"},
		{2, "child", "2 children"},
	}
	for _, tt := range tests {
		if got := Count(tt.n, tt.noun); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
	if got := Phrase(1, "run waits", "runs wait"); got != "1 run waits" {
		t.Errorf("Phrase(1) = %q", got)
	}
	if got := Phrase(0, "run waits", "runs wait"); got != "0 runs wait" {
		t.Errorf("Phrase(0) = %q", got)
	}
	if got := Noun(1, "is"); got != "is" {
		t.Errorf("Noun(1, is) = %q", got)
	}
	if got := Noun(2, "is"); got != "are" {
		t.Errorf("Noun(2, is) = %q", got)
	}
}

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"}, {1, "1 byte"}, {999, "999 bytes"}, {1000, "1.0 kB"}, {12_345, "12.3 kB"},
		{3_400_000, "3.4 MB"}, {340_000_000, "340 MB"}, {1_200_000_000, "1.2 GB"}, {-2_000, "-2.0 kB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
