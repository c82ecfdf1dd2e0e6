// Package transfer moves images between the local store and registries:
// pull (manifest, platform selection, layers in parallel, each streamed
// once into the content store and hashed on the way, resuming an
// interrupted download from what is on disk; diff IDs are checked when a
// layer is unpacked) and push (blobs the
// registry has are skipped or mounted, uncompressed layers are compressed
// with pgzip on the way out and the result remembered, so pushing the same
// image twice uploads nothing). The registry protocol itself is package
// remote's; transfer sees a repository through two small interfaces.
package transfer
