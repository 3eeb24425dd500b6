package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestServer(t *testing.T) {
	s := Start(t)
	defer s.Stop()
	conn := s.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	query := func() int {
		c, err := pgx.Connect(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, "SELECT 1+1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := query(); n != 2 {
		t.Fatalf("1+1 = %d", n)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := query(); n != 2 {
		t.Fatalf("after restart: 1+1 = %d", n)
	}
}
