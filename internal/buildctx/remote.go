package buildctx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/errdefs"
)

// FromTar extracts a tar stream, possibly gzip, bzip2, xz or zstd
// compressed (`strata build -` with a tar on stdin), into a new directory
// under tmpDir and returns it. Extraction refuses entries that would leave
// the directory (archive.ExtractTo). The caller calls cleanup once done.
func FromTar(r io.Reader, tmpDir string) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp(tmpDir, "strata-context-")
	if err != nil {
		return "", nil, fmt.Errorf("build context from tar: %w", err)
	}
	cleanup = func() { removeAll(dir) }
	if err := archive.ExtractTo(dir, "/", r, archive.Limits{}); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build context from tar: %w", err)
	}
	return dir, cleanup, nil
}

// IsGitURL reports whether a build context argument is a git repository,
// by Docker's rules: a "git@", "git://" or "github.com/" prefix, or an
// http(s) URL whose path ends in ".git", optionally followed by a
// "#fragment".
func IsGitURL(s string) bool {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		if strings.HasSuffix(s, ".git") {
			return true
		}
		if i := strings.Index(s, ".git#"); i >= 0 && len(s) > i+len(".git#") {
			return true
		}
	}
	for _, p := range []string{"git://", "github.com/", "git@"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// FromGit clones the git repository url into a new directory under tmpDir
// and returns the build context directory in it. url may end in
// "#ref:subdir" as with docker build: ref is a branch, tag or full commit
// id, subdir a directory of the repository (it must stay inside it).
// The clone is shallow, with submodules. A missing git binary is
// errdefs.ErrUnavailable. The caller calls cleanup once done.
func FromGit(ctx context.Context, url, tmpDir string) (dir string, cleanup func(), err error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return "", nil, errdefs.Newf(errdefs.ErrUnavailable, "a git build context needs git, which is not installed: %v", err)
	}
	remote, ref, subdir := splitGitURL(url)
	if strings.HasPrefix(remote, "github.com/") {
		remote = "https://" + remote
	}
	if remote == "" || strings.HasPrefix(remote, "-") || strings.HasPrefix(ref, "-") {
		return "", nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid git build context %q", url)
	}
	top, err := os.MkdirTemp(tmpDir, "strata-git-")
	if err != nil {
		return "", nil, fmt.Errorf("git build context: %w", err)
	}
	cleanup = func() { removeAll(top) }
	repo := filepath.Join(top, "repo")
	if err := clone(ctx, git, remote, ref, repo); err != nil {
		cleanup()
		return "", nil, err
	}
	dir, err = gitSubdir(repo, subdir)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}

// splitGitURL splits "url#ref:subdir".
func splitGitURL(s string) (remote, ref, subdir string) {
	remote, frag, _ := strings.Cut(s, "#")
	ref, subdir, _ = strings.Cut(frag, ":")
	return remote, ref, subdir
}

// clone makes a shallow clone of remote at ref (default branch if "") in dir.
func clone(ctx context.Context, git, remote, ref, dir string) error {
	if isCommitID(ref) {
		// --branch takes branches and tags only: fetch the commit itself.
		steps := [][]string{
			{"init", "--quiet", dir},
			{"-C", dir, "remote", "add", "origin", remote},
			{"-C", dir, "fetch", "--quiet", "--depth", "1", "origin", ref},
			{"-C", dir, "checkout", "--quiet", "FETCH_HEAD"},
			{"-C", dir, "submodule", "update", "--quiet", "--init", "--recursive", "--depth", "1"},
		}
		for _, args := range steps {
			if err := runGit(ctx, git, remote, args); err != nil {
				return err
			}
		}
		return nil
	}
	args := []string{"clone", "--quiet", "--depth", "1", "--recurse-submodules"}
	if ref != "" {
		args = append(args, "--branch", ref)
	}
	return runGit(ctx, git, remote, append(args, "--", remote, dir))
}

func runGit(ctx context.Context, git, remote string, args []string) error {
	cmd := exec.CommandContext(ctx, git, args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return errdefs.Newf(errdefs.ErrUnavailable, "git %s of %s failed: %s", args[0], remote, msg)
	}
	return nil
}

// isCommitID reports whether ref is a full sha1 or sha256 commit id.
func isCommitID(ref string) bool {
	if len(ref) != 40 && len(ref) != 64 {
		return false
	}
	for _, c := range ref {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// gitSubdir returns the directory subdir of the clone repo, which must
// resolve inside it.
func gitSubdir(repo, subdir string) (string, error) {
	rel := path.Clean(strings.TrimLeft(subdir, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errdefs.Newf(errdefs.ErrPermission, "git build context subdirectory %q is outside the repository", subdir)
	}
	repo, err := filepath.EvalSymlinks(repo)
	if err != nil {
		return "", fmt.Errorf("git build context: %w", err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(repo, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", errdefs.Newf(errdefs.ErrNotFound, "git build context subdirectory %q: not found in the repository", subdir)
	}
	if err != nil {
		return "", fmt.Errorf("git build context subdirectory %q: %w", subdir, err)
	}
	if dir != repo && !strings.HasPrefix(dir, repo+string(filepath.Separator)) {
		return "", errdefs.Newf(errdefs.ErrPermission, "git build context subdirectory %q is outside the repository", subdir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", errdefs.Newf(errdefs.ErrInvalidArgument, "git build context subdirectory %q is not a directory", subdir)
	}
	return dir, nil
}

// removeAll removes dir, first making read-only directories in it
// writable (a tar may hold some).
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	// Best effort, like the removal itself: whatever stays unwritable
	// only leaves garbage behind.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}
