package views

import (
	"strings"
	"testing"

	"github.com/trainrun/trainrun/runtime"
)

func TestApplyComplete(t *testing.T) {
	for _, tc := range []struct {
		res  runtime.Result
		want string
	}{
		{runtime.Result{Succeeded: 2}, "\nApply complete: 2 succeeded, 0 failed, 0 cancelled.\n"},
		{runtime.Result{Failed: 1, Skipped: 2, Detached: 1, Restored: 1},
			"\nApply complete: 0 succeeded, 1 failed, 0 cancelled, 2 skipped (upstream did not succeed), 1 left running (re-attach: trainrun apply), 1 restored (same fingerprint as an earlier run).\n"},
	} {
		var b strings.Builder
		ApplyComplete(&b, tc.res)
		if b.String() != tc.want {
			t.Errorf("ApplyComplete(%+v) = %q, want %q", tc.res, b.String(), tc.want)
		}
	}
}
