package executor

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// blockedReader blocks in Read until it is closed, as a stream on a
// connection that went away does.
type blockedReader struct{ closed chan struct{} }

func (b *blockedReader) Read([]byte) (int, error) {
	<-b.closed
	return 0, errors.New("read on closed stream")
}

func (b *blockedReader) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

// TestFollowerEndsWithItsContext: a read blocked on the open log returns
// when the context ends, and the log is closed.
func TestFollowerEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	br := &blockedReader{closed: make(chan struct{})}
	f := Follow{
		Open: func(context.Context, int64) (io.ReadCloser, error) { return br, nil },
		Done: func(context.Context) (bool, error) { return false, nil },
	}.Follower(ctx, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := f.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after the context ended")
	}
	select {
	case <-br.closed:
	default:
		t.Fatal("the log was left open")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
