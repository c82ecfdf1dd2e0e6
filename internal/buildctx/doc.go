// Package buildctx is the build context of `strata build`: a directory read
// in place (never tarred or copied), its .dockerignore rules, the content
// checksums that key COPY and ADD in the build cache, and Docker's COPY
// semantics for writing sources into a container root filesystem.
//
// Opening: Open takes a directory; FromTar (`strata build - < ctx.tar`) and
// FromGit (`strata build https://host/repo.git#ref:dir`) first make one under
// a temporary directory. Ignore rules come from "<Dockerfile>.dockerignore"
// when it exists (BuildKit's rule), else from ".dockerignore" at the root,
// with github.com/moby/patternmatcher semantics ("!" exceptions, "**").
//
// Checksums: Checksum resolves COPY sources (wildcards per path component,
// a top-level symlink followed only when it stays inside the context) and
// walks them with *at system calls on directory handles, never following a
// symlink inside a copied directory. An entry's digest covers its path,
// type, permission bits (setuid, setgid and sticky too), symlink target and,
// for a regular file, the sha256 of its content; never owners or times.
// Content digests come from a persistent hash cache: an entry is reused
// while the file's size, mtime, ctime, inode and mode are unchanged, so a
// build that changed nothing reads no file content. Files whose ctime is
// within racyWindow of the moment they were read are re-read next time,
// since a write in that window could keep every timestamp (git's "racy
// clean" rule). Changed files are hashed by runtime.NumCPU() workers.
//
// Cache file, one per context (cacheDir/<sha256 of Dir>.cache), written by
// Save to a temporary file and renamed into place:
//
//	"STRATAHC" | version u32 | count u32
//	count x { uvarint len | path | size i64 | mtime i64 | ctime i64 |
//	          inode u64 | mode u32 | hashedAt i64 | sha256 [32] }
//	crc32c of everything before (u32)
//
// All integers are little endian. A file that does not parse or whose crc
// does not match is ignored: the cache only ever saves work.
//
// Copying: Copy follows Docker's COPY rules (a directory's contents are
// copied, not the directory; a file lands in dest/ or as dest; several
// sources need a directory destination ending in "/"). Every path written
// is resolved inside the destination root as if it were "/"
// (openat2 RESOLVE_IN_ROOT, or filepath-securejoin's pathrs-lite where
// openat2 is missing), and everything below a resolved directory is done
// with *at calls on single names that never follow them, so hostile
// symlinks in an image cannot make a COPY write outside its root.
package buildctx
