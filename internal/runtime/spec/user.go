package spec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/strata-dev/strata/internal/errdefs"
	"golang.org/x/sys/unix"
)

// User is the identity a container process runs as.
type User struct {
	UID, GID uint32
	// AdditionalGids starts with GID, followed by the user's supplementary
	// groups from /etc/group, as Docker passes them to the runtime.
	AdditionalGids []uint32
	// Home is the user's home directory, "/" when passwd has no entry.
	Home string
}

// maxID is the highest uid or gid accepted, as in moby/sys/user.
const maxID = math.MaxInt32

// passwdEntry is one line of /etc/passwd; group one line of /etc/group.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// ResolveUser resolves a Docker user spec ("", "name", "uid", "name:group",
// "uid:gid", "name:gid", "uid:group") against rootfs's /etc/passwd and
// /etc/group, with the rules of moby/sys/user.GetExecUser:
//
//   - "" is uid 0 (its passwd entry, if any, gives the gid and home);
//   - a numeric uid or gid is used as is, found in the files or not;
//   - a name must be in the file: `unable to find user NAME: no matching
//     entries in passwd file` (ErrInvalidArgument) otherwise;
//   - supplementary groups are those listing the user by name, and only when
//     no group was given explicitly.
//
// The files are opened inside rootfs (symlinks resolve as if rootfs were /),
// so a link to a host file reads the rootfs's own path. Missing files behave
// as empty ones.
func ResolveUser(rootfs, user string) (User, error) {
	userArg, groupArg, _ := strings.Cut(user, ":")
	// moby splits on every colon and ignores fields after the second.
	groupArg, _, _ = strings.Cut(groupArg, ":")
	uidArg, isUID, err := parseID(userArg)
	if err != nil {
		return User{}, err
	}
	gidArg, isGID, err := parseID(groupArg)
	if err != nil {
		return User{}, err
	}

	var (
		u       = User{Home: "/"}
		matched string
	)
	found, err := withRootFile(rootfs, "/etc/passwd", func(r io.Reader) (bool, error) {
		return scanPasswd(r, func(p passwdEntry) bool {
			switch {
			case userArg == "":
				return p.uid == 0
			case isUID:
				return p.uid == uidArg
			default:
				return p.name == userArg
			}
		}, func(p passwdEntry) {
			matched = p.name
			u.UID, u.GID = uint32(p.uid), uint32(p.gid)
			if p.home != "" {
				u.Home = p.home
			}
		})
	})
	if err != nil {
		return User{}, errdefs.Newf(errdefs.ErrInvalidArgument, "unable to find user %s: %v", orID(userArg, 0), err)
	}
	if !found && userArg != "" {
		if !isUID {
			return User{}, errdefs.Newf(errdefs.ErrInvalidArgument, "unable to find user %s: no matching entries in passwd file", userArg)
		}
		u.UID = uint32(uidArg)
	}

	var sgids []uint32
	if groupArg != "" || matched != "" {
		gfound := false
		_, err := withRootFile(rootfs, "/etc/group", func(r io.Reader) (bool, error) {
			return scanGroup(r, func(g groupEntry) bool {
				switch {
				case groupArg == "":
					return contains(g.members, matched)
				case isGID:
					return g.gid == gidArg
				default:
					return g.name == groupArg
				}
			}, func(g groupEntry) bool {
				if groupArg != "" {
					if !gfound {
						u.GID = uint32(g.gid)
						gfound = true
					}
					return false
				}
				sgids = append(sgids, uint32(g.gid))
				return true
			})
		})
		if err != nil {
			return User{}, errdefs.Newf(errdefs.ErrInvalidArgument, "unable to find groups for spec %s: %v", matched, err)
		}
		if groupArg != "" && !gfound {
			if !isGID {
				return User{}, errdefs.Newf(errdefs.ErrInvalidArgument, "unable to find group %s: no matching entries in group file", groupArg)
			}
			u.GID = uint32(gidArg)
		}
	}
	u.AdditionalGids = append([]uint32{u.GID}, sgids...)
	return u, nil
}

// parseID reads a numeric uid or gid; a non-number is a name (false, nil).
func parseID(s string) (int, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, true, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid user %q: uids and gids must be in range 0-%d", s, maxID)
		}
		return 0, false, nil
	}
	if id < 0 || id > maxID {
		return 0, true, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid user %q: uids and gids must be in range 0-%d", s, maxID)
	}
	return id, true, nil
}

func orID(name string, id int) string {
	if name == "" {
		return strconv.Itoa(id)
	}
	return name
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// withRootFile opens name inside rootfs, never leaving it, and hands the
// file to read. A missing file (or a missing directory on the way) is read
// as an empty one.
func withRootFile(rootfs, name string, read func(io.Reader) (bool, error)) (bool, error) {
	handle, err := pathrs.OpenInRoot(rootfs, name)
	if err != nil {
		if isMissing(err) {
			return read(strings.NewReader(""))
		}
		return false, fmt.Errorf("open %s in %s: %w", name, rootfs, err)
	}
	defer handle.Close()
	f, err := pathrs.Reopen(handle, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return false, fmt.Errorf("open %s in %s: %w", name, rootfs, err)
	}
	defer f.Close()
	return read(f)
}

func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// maxLine bounds a passwd or group line (a group's member list can be long).
const maxLine = 1 << 20

// scanPasswd calls take for the first entry that match accepts and reports
// whether there was one.
func scanPasswd(r io.Reader, match func(passwdEntry) bool, take func(passwdEntry)) (bool, error) {
	s := bufio.NewScanner(r)
	s.Buffer(nil, maxLine)
	for s.Scan() {
		p, ok := parsePasswdLine(s.Text())
		if ok && match(p) {
			take(p)
			return true, nil
		}
	}
	return false, s.Err()
}

// scanGroup calls take for every entry match accepts until take returns
// false, and reports whether any matched.
func scanGroup(r io.Reader, match func(groupEntry) bool, take func(groupEntry) bool) (bool, error) {
	s := bufio.NewScanner(r)
	s.Buffer(nil, maxLine)
	matched := false
	for s.Scan() {
		g, ok := parseGroupLine(s.Text())
		if !ok || !match(g) {
			continue
		}
		matched = true
		if !take(g) {
			return true, nil
		}
	}
	return matched, s.Err()
}

// parsePasswdLine reads "name:pass:uid:gid:gecos:home:shell". Like glibc and
// moby, missing trailing fields are empty and bad numbers read as 0; blank
// lines and comments are skipped (ok false).
func parsePasswdLine(line string) (passwdEntry, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return passwdEntry{}, false
	}
	f := strings.SplitN(line, ":", 7)
	return passwdEntry{
		name: field(f, 0),
		uid:  atoi(field(f, 2)),
		gid:  atoi(field(f, 3)),
		home: field(f, 5),
	}, true
}

// parseGroupLine reads "name:pass:gid:member,member".
func parseGroupLine(line string) (groupEntry, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return groupEntry{}, false
	}
	f := strings.SplitN(line, ":", 4)
	g := groupEntry{name: field(f, 0), gid: atoi(field(f, 2))}
	if m := field(f, 3); m != "" {
		g.members = strings.Split(m, ",")
	}
	return g, true
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
