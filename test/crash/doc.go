// Package crash holds tests that drive the built strata binary the hard way:
// they kill -9 load and import at random moments and check that the store
// still lists only complete images, that `system check` finds at most the
// leftovers a crash may leave (unreferenced blobs, abandoned ingests) and
// that the same command then succeeds; and they run several strata
// processes on one store at once (imports sharing layers, tags, rmi, prune,
// loads of one archive) and check the store stays consistent.
//
// The binary is $STRATA_BIN, else <module root>/bin/strata, else one built
// by TestMain. -short runs fewer iterations.
package crash
