package executor

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// DiskUsage is how many bytes of disk the tree at dir takes, as du -sk
// (POSIX) counts it on e's machine: in 1024-byte blocks, each file once.
func DiskUsage(ctx context.Context, e Executor, dir string) (int64, error) {
	if !path.IsAbs(dir) || path.Clean(dir) != dir {
		return 0, fmt.Errorf("du %s: not an absolute, clean path", dir)
	}
	out, err := e.Run(ctx, []string{"du", "-sk", "--", dir}, nil)
	if err != nil {
		return 0, fmt.Errorf("du %s: %w", dir, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return 0, fmt.Errorf("du %s: no answer", dir)
	}
	kb, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("du %s: %q is not a size", dir, f[0])
	}
	return kb * 1024, nil
}
