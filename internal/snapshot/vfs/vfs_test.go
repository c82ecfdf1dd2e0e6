package vfs_test

import (
	"database/sql"
	"testing"

	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/snapshot/testsuite"
	"github.com/strata-dev/strata/internal/snapshot/vfs"
)

func newVFS(root string, db *sql.DB) (snapshot.Snapshotter, error) { return vfs.New(root, db) }

func TestVFS(t *testing.T) { testsuite.Run(t, newVFS) }

func BenchmarkVFS(b *testing.B) { testsuite.Benchmark(b, newVFS) }
