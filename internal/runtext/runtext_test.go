package runtext

import (
	"testing"
	"time"

	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

func TestStatus(t *testing.T) {
	two := 2
	for _, tc := range []struct {
		run  state.Run
		want string
	}{
		{state.Run{Status: providers.Succeeded}, "succeeded"},
		{state.Run{Status: providers.Failed, ExitCode: &two}, "failed (exit 2)"},
		{state.Run{Status: providers.Failed}, "failed"},
		{state.Run{Status: providers.Succeeded, Uncollected: true}, "succeeded, not collected"},
	} {
		if got := Status(&tc.run); got != tc.want {
			t.Errorf("Status(%+v) = %q, want %q", tc.run, got, tc.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	m := map[string]state.Metric{"val_loss": {Value: 0.25}, "acc": {Value: 0.9}, "zeta": {Value: 1e-7}}
	for _, tc := range []struct {
		m     map[string]state.Metric
		first string
		want  string
	}{
		{nil, "", "-"},
		{m, "", "acc=0.9 val_loss=0.25 zeta=1e-07"},
		{m, "val_loss", "val_loss=0.25 acc=0.9 zeta=1e-07"},
		{m, "missing", "acc=0.9 val_loss=0.25 zeta=1e-07"},
	} {
		if got := Metrics(tc.m, tc.first); got != tc.want {
			t.Errorf("Metrics(first %q) = %q, want %q", tc.first, got, tc.want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{12 * time.Minute, "12m"},
		{47 * time.Hour, "47h"},
		{72 * time.Hour, "3d"},
	} {
		if got := Age(now, now.Add(-tc.ago)); got != tc.want {
			t.Errorf("Age(%v ago) = %q, want %q", tc.ago, got, tc.want)
		}
	}
}

func TestNote(t *testing.T) {
	for _, tc := range []struct {
		run  state.Run
		want string
	}{
		{state.Run{}, ""},
		{state.Run{ReproOf: "abc"}, "rerun of abc"},
		{state.Run{CachedFrom: "def"}, "cached from def"},
	} {
		if got := Note(&tc.run); got != tc.want {
			t.Errorf("Note(%+v) = %q, want %q", tc.run, got, tc.want)
		}
	}
}

func TestQuoteArgs(t *testing.T) {
	got := QuoteArgs([]string{"python", "train.py", "", "a b", "it's", "$HOME", "x\\y"})
	want := []string{"python", "train.py", `""`, `"a b"`, `"it's"`, `"$HOME"`, `"x\\y"`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("QuoteArgs[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestBy(t *testing.T) {
	a := &state.Run{User: "ann", Host: "gpu-1"}
	b := &state.Run{User: "bob", Host: "gpu-1"}
	old := &state.Run{}
	if got := By(a); got != "ann@gpu-1" {
		t.Errorf("By = %q", got)
	}
	if got := By(old); got != "" {
		t.Errorf("By of an old run = %q", got)
	}
	for _, tc := range []struct {
		runs []*state.Run
		want bool
	}{
		{[]*state.Run{a, a, nil, old}, false},
		{[]*state.Run{a, old, b}, true},
		{nil, false},
	} {
		if got := ManyBy(tc.runs); got != tc.want {
			t.Errorf("ManyBy(%v) = %v", tc.runs, got)
		}
	}
}

func TestTicking(t *testing.T) {
	for _, tt := range []struct {
		d     time.Duration
		ended bool
		want  string
	}{
		{-time.Second, false, "0s"},
		{1500 * time.Millisecond, false, "1s"},
		{1550 * time.Millisecond, true, "1.6s"},
		{12 * time.Second, true, "12s"},
		{59 * time.Second, false, "59s"},
		{3*time.Minute + 4*time.Second, false, "3m04s"},
		{2*time.Hour + 5*time.Minute + 59*time.Second, true, "2h05m"},
	} {
		if got := Ticking(tt.d, tt.ended); got != tt.want {
			t.Errorf("Ticking(%v, %v) = %q, want %q", tt.d, tt.ended, got, tt.want)
		}
	}
}
