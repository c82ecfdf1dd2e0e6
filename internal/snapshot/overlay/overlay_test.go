package overlay_test

import (
	"database/sql"
	"testing"

	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/overlay"
	"github.com/strata-dev/strata/internal/snapshot/testsuite"
)

func newOverlay(tb testing.TB) testsuite.NewFunc {
	if err := overlay.Supported(tb.TempDir()); err != nil {
		tb.Skip(err)
	}
	return func(root string, db *sql.DB) (snapshot.Snapshotter, error) {
		return overlay.New(root, db)
	}
}

func TestOverlay(t *testing.T) { testsuite.Run(t, newOverlay(t)) }

func BenchmarkOverlay(b *testing.B) { testsuite.Benchmark(b, newOverlay(b)) }
