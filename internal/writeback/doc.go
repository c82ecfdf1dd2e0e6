// Package writeback starts writing a file's new bytes to disk while more
// are still being written, so the fsync that ends the file has little
// left to do. Ingests of large blobs (pulled layers, registry uploads)
// overlap their disk writes with the network and hashing this way
// instead of waiting for them all at the end.
package writeback
