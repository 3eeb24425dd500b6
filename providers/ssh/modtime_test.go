package ssh

import (
	"testing"
	"time"
)

func TestParseModTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"1796656743.401341638\n", time.Unix(1796656743, 401341638), false},
		{"1796656743\n", time.Unix(1796656743, 0), false}, // busybox: whole seconds
		{"1796656743.5\n", time.Unix(1796656743, 500000000), false},
		{"", time.Time{}, true},
		{"soon\n", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseModTime(tt.in)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("parseModTime(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
