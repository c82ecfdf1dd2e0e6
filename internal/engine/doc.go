// Package engine is strata's composition root: it finds the state
// directory, opens the stores in it and wires them together. Commands get
// everything they use from an *Engine; nothing else opens files under the
// root.
//
// The root (--root, else $STRATA_ROOT, else /var/lib/strata for root, else
// $XDG_DATA_HOME/strata) holds:
//
//	content/blobs/sha256/<hex>   every blob once (see package content)
//	content/ingest/<ref>/        blobs being written
//	metadata.db                  images and tags (see package metadata)
//	locks/gc.lock                writers share it, blob deletion takes it alone
//	snapshots/<driver>/          unpacked layers (containers issue)
//	containers/<id>/             container bundles (containers issue)
package engine
