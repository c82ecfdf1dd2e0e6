// Package archive handles layer tar streams: it detects and removes
// compression, and scans a layer in one pass to validate every entry and
// compute its diffID (the sha256 of the uncompressed tar stream).
//
// One pass, streaming:
//
//	source -> bufio (1 MiB) -> decompressor -> meter (size limit, sha256, tee) -> bufio (1 MiB) -> archive/tar
//
// Scan refuses entries that a later extraction could not apply safely inside a
// root directory: absolute or escaping paths, device nodes, unknown entry
// types, hard links leaving the root, and any entry that would be written
// through a symlink created earlier in the same stream. Symlink targets
// themselves are not judged: they are resolved inside the rootfs at
// extraction time. Whatever extracts a scanned layer must use the cleaned
// entry path (path.Clean of the tar name), replace an existing symlink at that
// path instead of following it, and resolve symlink targets inside the root.
package archive
