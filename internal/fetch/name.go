package fetch

import (
	"mime"
	"net/url"
	"path"
	"strings"
)

// defaultName is the file name when neither the response nor the URL offers
// one (BuildKit's choice).
const defaultName = "download"

// maxNameLen is the longest file name Linux file systems accept.
const maxNameLen = 255

// fileName picks the name of the file that `ADD url /dir/` creates: the
// Content-Disposition filename when present and safe, else the last segment
// of the URL's path, else "download". The precedence is BuildKit's.
func fileName(disposition string, u *url.URL) string {
	if disposition != "" {
		if _, params, err := mime.ParseMediaType(disposition); err == nil {
			if name, ok := safeName(params["filename"]); ok {
				return name
			}
		}
	}
	if u != nil {
		if name, ok := safeName(path.Base(u.Path)); ok {
			return name
		}
	}
	return defaultName
}

// safeName returns s if it is usable as a single file name: not empty, not
// "." or "..", no "/", no backslash (a Windows path separator that a server
// may send), no NUL or other control characters, and short enough for a
// file system. A hostile "../../etc/passwd" is refused, not trimmed, so a
// server cannot steer which name within the directory is written.
func safeName(s string) (string, bool) {
	if s == "" || s == "." || s == ".." || len(s) > maxNameLen {
		return "", false
	}
	if strings.ContainsAny(s, `/\`) {
		return "", false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	return s, true
}
