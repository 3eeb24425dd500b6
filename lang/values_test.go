package lang

import (
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2h", 2 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"90s", 90 * time.Second, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0.5d", 12 * time.Hour, true},
		{"0", 0, true},
		{" 5m ", 5 * time.Minute, true},
		{"", 0, false},
		{"2", 0, false},
		{"2 hours", 0, false},
		{"-1h", 0, false},
		{"1h2d", 0, false},
		{"d", 0, false},
		{"999999999999d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   cty.Value
		want int64
		ok   bool
	}{
		{cty.StringVal("16GiB"), 16 << 30, true},
		{cty.StringVal("512MiB"), 512 << 20, true},
		{cty.StringVal("2GB"), 2e9, true},
		{cty.StringVal("100M"), 100e6, true},
		{cty.StringVal("4Gi"), 4 << 30, true},
		{cty.StringVal("1.5GiB"), 3 << 29, true},
		{cty.StringVal("16 gib"), 16 << 30, true},
		{cty.StringVal("1024"), 1024, true},
		{cty.NumberIntVal(2048), 2048, true},
		{cty.StringVal("16 gigs"), 0, false},
		{cty.StringVal("GiB"), 0, false},
		{cty.StringVal("-1GiB"), 0, false},
		{cty.NumberIntVal(-1), 0, false},
		{cty.True, 0, false},
		{cty.NullVal(cty.String), 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%#v) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCheckOutputPath(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"model/", true},
		{"metrics.json", true},
		{"a/b/../c", false},
		{"..", false},
		{"../x", false},
		{"/etc/passwd", false},
		{`C:\x`, false},
		{`a\..\..\b`, false},
		{"", false},
		{".", false},
		{"./", false},
		{"./model", true},
		{"..hidden", true},
	}
	for _, tt := range tests {
		if err := checkOutputPath(tt.in); (err == nil) != tt.ok {
			t.Errorf("checkOutputPath(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"lrr", []string{"lr", "batch"}, ` Did you mean "lr"?`},
		{"Laptop", []string{"laptop"}, ` Did you mean "laptop"?`},
		{"xyz", []string{"laptop"}, ""},
		{"lr", []string{"lr"}, ""},
		{"experimnts", []string{"experiments"}, ` Did you mean "experiments"?`},
	}
	for _, tt := range tests {
		if got := didYouMean(tt.name, tt.candidates); got != tt.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRetryWait(t *testing.T) {
	tests := []struct {
		backoff time.Duration
		n       int
		want    time.Duration
	}{
		{10 * time.Second, 1, 10 * time.Second},
		{10 * time.Second, 2, 20 * time.Second},
		{10 * time.Second, 3, 40 * time.Second},
		{10 * time.Second, 6, 320 * time.Second},
		{10 * time.Second, 7, MaxRetryBackoff}, // 640s, capped
		{10 * time.Second, 1000, MaxRetryBackoff},
		{time.Hour, 1, time.Hour}, // longer than the cap: itself
		{time.Hour, 5, time.Hour},
		{0, 3, 0},
		{time.Second, 0, 0},
	}
	for _, tt := range tests {
		if got := RetryWait(tt.backoff, tt.n); got != tt.want {
			t.Errorf("RetryWait(%v, %d) = %v, want %v", tt.backoff, tt.n, got, tt.want)
		}
	}
}

// TestEmptyEnvVarIsAValue: TRAINRUN_VAR_x set to "" gives x the empty
// string, as Terraform does, instead of leaving its default; not set, the
// default stays.
func TestEmptyEnvVarIsAValue(t *testing.T) {
	src := base + "variable \"tag\" {\n  type    = string\n  default = \"dflt\"\n}\n" + exp("a", okCmd)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"TRAINRUN_VAR_tag": ""}, ""},
		{map[string]string{}, "dflt"},
		{map[string]string{"TRAINRUN_VAR_tag": "x"}, "x"},
	} {
		opts := testOptions()
		opts.Getenv = env(tc.env)
		opts.LookupEnv = func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		cfg := mustLoad(t, one(src), opts)
		if got := cfg.Variables["tag"].Value.AsString(); got != tc.want {
			t.Errorf("with %q: tag = %q; want %q", tc.env, got, tc.want)
		}
	}
}
