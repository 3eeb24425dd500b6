package statetest_test

import (
	"path/filepath"
	"testing"

	"github.com/trainrun/trainrun/state"
	"github.com/trainrun/trainrun/state/statetest"
)

// local is the local directory backend, state.Store.
var local = statetest.Backend{
	New: func(t testing.TB) string { return filepath.Join(t.TempDir(), ".trainrun") },
	Open: func(dir string) (state.Backend, error) {
		s, err := state.Open(dir)
		if err != nil {
			return nil, err
		}
		return s, nil
	},
}

func TestMain(m *testing.M) { statetest.Main(m, local) }

func TestLocal(t *testing.T) { statetest.Run(t, local) }
