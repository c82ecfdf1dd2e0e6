// Package imagestore joins the content store (blobs) and the metadata
// database (image rows, tags) into images: it commits new images, resolves
// names and IDs, tags, removes with reference counting, prunes, collects
// garbage and checks the store.
//
// Ordering rules that keep the store consistent under kill -9 and under
// several strata processes at once:
//
//   - blobs first (content ingest is atomic and verified), then the config
//     and manifest blobs, then the image row and its tags in one transaction;
//     an image row therefore never points at a missing blob;
//   - a writer holds a shared lease (flock LOCK_SH on locks/gc.lock) from its
//     first blob write until its image row is committed; deleting blobs takes
//     the lock exclusively and re-checks references under it, so a blob that
//     a concurrent import is about to reference is never deleted;
//   - rows are deleted before blobs; a crash in between leaves unreferenced
//     blobs, which `system check --repair` and `image prune` remove.
package imagestore
