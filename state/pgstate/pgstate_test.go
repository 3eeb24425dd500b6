package pgstate_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/trainrun/trainrun/internal/pgtest"
	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/state/pgstate"
	"github.com/trainrun/trainrun/state/statetest"
)

// connStr is the test database's: the helper processes the suite starts
// get it in their location, "CONNSTR PROJECT".
var connStr string

var backend = statetest.Backend{
	New: func(t testing.TB) string { return connStr + " " + "p" + strings.ToLower(rand.Text()) },
	Open: func(loc string) (state.Backend, error) {
		conn, project, _ := strings.Cut(loc, " ")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return pgstate.Open(ctx, conn, project)
	},
}

func TestMain(m *testing.M) { statetest.Main(m, backend) }

func TestConformance(t *testing.T) {
	s := pgtest.Start(t)
	defer s.Stop()
	connStr = s.NewDatabase(t)
	statetest.Run(t, backend)
}
