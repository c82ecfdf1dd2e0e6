// Package testsuite is the test every snapshot driver passes. A driver's
// test is a few lines:
//
//	func TestSnapshotter(t *testing.T) {
//		testsuite.Run(t, func(root string, db *sql.DB) (snapshot.Snapshotter, error) {
//			return mydriver.New(root, db)
//		})
//	}
//
// Run mounts what the driver returns, so it needs root; it skips otherwise.
// It opens the metadata database itself (strata's settings: WAL, busy
// timeout, BEGIN IMMEDIATE) and calls the NewFunc several times on the same
// root and database file to play several strata processes. Drivers must
// keep their directories under <root>/snapshots as internal/storage lays
// them out (the crash and leak checks look there) and implement
// snapshot.Cleaner.
package testsuite
