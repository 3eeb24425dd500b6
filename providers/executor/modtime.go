package executor

import (
	"context"
	"path"
	"time"
)

// StartTime says when the wrapper in dir started (when it wrote its pid
// file), or zero when e cannot tell.
func StartTime(ctx context.Context, e Executor, dir string) time.Time {
	return modTime(ctx, e, path.Join(dir, PidFile))
}

// EndTime says when the wrapper in dir ended (when it wrote its exit
// file), or zero when e cannot tell.
func EndTime(ctx context.Context, e Executor, dir string) time.Time {
	return modTime(ctx, e, path.Join(dir, ExitFile))
}

func modTime(ctx context.Context, e Executor, p string) time.Time {
	mt, ok := e.(ModTimer)
	if !ok {
		return time.Time{}
	}
	t, err := mt.ModTime(ctx, p)
	if err != nil {
		return time.Time{}
	}
	return t
}
