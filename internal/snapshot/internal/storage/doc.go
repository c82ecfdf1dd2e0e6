// Package storage is the part the snapshot drivers share: the metadata table
// and the life cycle of the snapshot directories.
//
// Layout under a driver's root:
//
//	<root>/snapshots/<id>/              one snapshot; <id> is the row id
//	<root>/snapshots/<id>/fs            its files (the driver decides the rest)
//	<root>/snapshots/tmp-<random>/      a snapshot being built (flock held)
//	<root>/snapshots/removing-<random>/ a snapshot being deleted (flock held)
//
// Metadata is one SQLite table per driver, snapshots_<driver>:
//
//	id        INTEGER PRIMARY KEY AUTOINCREMENT   directory name; never reused
//	name      TEXT UNIQUE                         key or committed name
//	parent_id INTEGER                             committed parent, NULL if none
//	kind      TEXT                                active | view | committed
//	created   INTEGER                             unix nanoseconds
//
// Every change is one short BEGIN IMMEDIATE transaction, so processes queue
// on SQLite's busy timeout instead of failing. The crash rules:
//
//   - A snapshot is built in a tmp- directory outside any transaction, then,
//     inside the transaction that inserts its row, renamed to its id. A crash
//     before the commit leaves a tmp- directory or an id directory without a
//     row; both are garbage.
//   - Remove deletes the row first, then renames the directory to removing-
//     and deletes it. A crash leaves an id directory without a row or a
//     removing- directory; both are garbage.
//   - Cleanup deletes the garbage: id directories without a row (decided
//     under the write lock, so a snapshot being created is never taken for
//     garbage) and tmp-/removing- directories whose owner holds no flock on
//     them, i.e. whose process has died.
//
// AUTOINCREMENT keeps a deleted snapshot's id from being handed out again,
// so a directory that outlived its row can never be mistaken for a new
// snapshot's. Only an id whose insert was rolled back can come back; its
// leftover directory is moved aside when that happens.
package storage
