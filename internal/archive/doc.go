// Package archive handles layer tar streams: it detects and removes
// compression, and scans a layer in one pass to validate every entry and
// compute its diffID (the sha256 of the uncompressed tar stream).
//
// One pass, streaming, with two goroutines for compressed layers:
//
//	source -> bufio (1 MiB) -> [xz guard] -> decoder -> readahead (goroutine, 4 x 256 KiB)
//	       -> meter (size limit, sha256, tee) -> bufio (1 MiB) -> archive/tar -> entry checks
//
// The readahead lets decompression run on one core while sha256 and the tar
// reader run on the other; the meter caps what it reads at the size limit,
// so the decoder runs at most the readahead ahead of a refusal. The xz guard
// refuses LZMA2 dictionaries over 256 MiB before the decoder allocates them;
// zstd windows are capped at 128 MiB.
//
// Scan refuses entries that a later extraction could not apply safely inside
// a root directory: absolute or escaping paths, device nodes, unknown entry
// types, hard links leaving the root, and any entry that would be written
// through a symlink created earlier in the same stream. Symlink targets
// themselves are not judged: they are resolved inside the rootfs at
// extraction time. Whatever extracts a scanned layer must use the cleaned
// entry path (path.Clean of the tar name), replace an existing symlink at
// that path instead of following it, and resolve symlink targets inside the
// root.
//
// Apply is that extraction: Scan's pipeline and checks, with every accepted
// entry written below a directory the moment it is read, so a layer is
// fetched, hashed, inflated and extracted in one pass. Paths resolve with
// openat2(RESOLVE_IN_ROOT) (or filepath-securejoin where openat2 is
// missing): symlinks already in the directory, or made earlier in the
// stream, resolve inside it as they would in a container, and the entry's
// own name is never followed. OCI whiteouts are applied by deleting (vfs)
// or written as overlayfs whiteouts (overlay upper directories).
// ExtractTo is the same for `cp` into a container.
//
// The other way: Diff writes the OCI layer of an overlayfs upper directory
// (its whiteouts and opaque directories become OCI ones) with a single walk;
// DiffTrees compares two full trees for the vfs driver; Changes and
// ChangesTrees list changes like `docker diff`; WriteTree and WritePath
// write a tree or one path of it (`export`, `cp` out). All of them walk
// through directory handles without following names, sorted, and stream
// file contents.
package archive
