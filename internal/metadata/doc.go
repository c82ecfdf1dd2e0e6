// Package metadata keeps strata's image records in SQLite (metadata.db, WAL
// mode), so that several strata processes can read and write the store at
// once without a daemon: writers take SQLite's write lock for the length of
// one short transaction (BEGIN IMMEDIATE), readers never block.
//
// Tables:
//
//	images        one row per image; id is the config digest (the image ID)
//	image_blobs   the blobs an image needs: its manifest, config and layers
//	tags          name:tag -> image id (a name points at one image)
//	repo_digests  name@digest -> image id (recorded by load and pull)
//
// An image row and its blob rows are written in one transaction after every
// blob is in the content store, so a row never points at a missing blob. The
// content store is never touched here: callers decide which unreferenced
// blobs to delete, under the store's GC lock.
package metadata
