package remote

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// dockerConfig is a config.json as docker writes it.
var dockerConfig = `{
	"auths": {
		"https://index.docker.io/v1/": {"auth": "` + b64("bob:hub:pass") + `"},
		"myreg:5000": {"auth": "` + b64("alice:pw") + `", "email": "a@example.com"},
		"https://other.example/v1/": {"username": "u", "password": "p"}
	},
	"psFormat": "table {{.ID}}",
	"HttpHeaders": {"X-Meta": "1"}
}`

func readJSON(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustGet(t *testing.T, s AuthStore, host string) Credentials {
	t.Helper()
	c, err := s.Get(host)
	if err != nil {
		t.Fatalf("Get(%q): %v", host, err)
	}
	return c
}

func TestConfigFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	os.WriteFile(path, []byte(dockerConfig), 0o644)
	f, err := NewConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]Credentials{
		"docker.io":       {Username: "bob", Password: "hub:pass"},
		"index.docker.io": {Username: "bob", Password: "hub:pass"},
		"myreg:5000":      {Username: "alice", Password: "pw"},
		"other.example":   {Username: "u", Password: "p"},
		"nowhere:1":       {},
	} {
		if got := mustGet(t, f, host); got != want {
			t.Errorf("Get(%q) = %+v, want %+v", host, got, want)
		}
	}

	if err := f.Store("newreg:5000", Credentials{Username: "carol", Password: "pw2"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Store("docker.io", Credentials{Username: "bob", IdentityToken: "refresh"}); err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, path)
	if string(m["psFormat"]) != `"table {{.ID}}"` || !strings.Contains(string(m["HttpHeaders"]), "X-Meta") {
		t.Fatalf("other fields lost: %s", m)
	}
	var auths map[string]authEntry
	json.Unmarshal(m["auths"], &auths)
	if auths["newreg:5000"].Auth != b64("carol:pw2") || auths["myreg:5000"].Email != "a@example.com" {
		t.Fatalf("auths written: %+v", auths)
	}
	if e := auths[dockerHubAuthKey]; e.Auth != b64("bob:") || e.IdentityToken != "refresh" {
		t.Fatalf("docker.io entry: %+v", e)
	}
	if got := mustGet(t, f, "docker.io"); got != (Credentials{Username: "bob", IdentityToken: "refresh"}) {
		t.Fatalf("identity token read back as %+v", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode changed to %v", st.Mode())
	}

	if err := f.Erase("myreg:5000"); err != nil {
		t.Fatal(err)
	}
	if err := f.Erase("other.example"); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, f, "myreg:5000"); !got.IsZero() {
		t.Fatalf("erased credentials still there: %+v", got)
	}
	if got := mustGet(t, f, "other.example"); !got.IsZero() {
		t.Fatalf("erased credentials (spelled differently) still there: %+v", got)
	}
	if got := mustGet(t, f, "newreg:5000"); got.Username != "carol" {
		t.Fatalf("erase removed too much: %+v", got)
	}
}

func TestConfigFileLocationAndErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	f, err := NewConfigFile("")
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != filepath.Join(dir, "config.json") {
		t.Fatalf("Path = %s", f.Path())
	}
	if got := mustGet(t, f, "x"); !got.IsZero() {
		t.Fatal("credentials from a missing file")
	}
	if err := f.Store("x:1", Credentials{Username: "a", Password: "b"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(f.Path()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v, %v", st, err)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"auths": [`), 0o600)
	if _, err := NewConfigFile(bad); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("malformed file: %v", err)
	}
	os.WriteFile(bad, []byte(`{"auths": {"h": {"auth": "!!"}}}`), 0o600)
	g, err := NewConfigFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get("h"); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("bad auth value: %v", err)
	}
}

// helperScript is a docker-credential-test that keeps one credential in a
// file next to itself and logs erasures.
const helperScript = `#!/bin/sh
dir=$(dirname "$0")
in=$(cat)
case "$1" in
store) printf '%s' "$in" > "$dir/stored" ;;
get)
	if [ -f "$dir/stored" ] && grep -qF "\"ServerURL\":\"$in\"" "$dir/stored"; then
		cat "$dir/stored"
	else
		echo "credentials not found in native keychain"; exit 1
	fi ;;
erase) rm -f "$dir/stored"; printf '%s' "$in" >> "$dir/erased" ;;
*) echo "unknown action"; exit 1 ;;
esac
`

func TestCredentialHelper(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-test"), []byte(helperScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"credHelpers": {"myreg:5000": "test"}, "credsStore": "test"}`), 0o600)
	f, err := NewConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}

	if got := mustGet(t, f, "myreg:5000"); !got.IsZero() {
		t.Fatalf("empty helper gave %+v", got)
	}
	if err := f.Store("myreg:5000", Credentials{Username: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	var stored helperCreds
	b, _ := os.ReadFile(filepath.Join(bin, "stored"))
	if err := json.Unmarshal(b, &stored); err != nil || stored != (helperCreds{ServerURL: "myreg:5000", Username: "alice", Secret: "pw"}) {
		t.Fatalf("helper got %s (%v)", b, err)
	}
	var entries map[string]map[string]any
	if a := readJSON(t, path)["auths"]; json.Unmarshal(a, &entries) != nil || len(entries) != 1 || entries["myreg:5000"] == nil || len(entries["myreg:5000"]) != 0 {
		t.Fatalf("auths = %s, want one empty entry", a)
	}
	if got := mustGet(t, f, "myreg:5000"); got != (Credentials{Username: "alice", Password: "pw"}) {
		t.Fatalf("Get = %+v", got)
	}

	// credsStore serves docker.io under Docker's key; identity tokens use "<token>".
	if err := f.Store("docker.io", Credentials{Username: "bob", IdentityToken: "rt"}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(bin, "stored"))
	json.Unmarshal(b, &stored)
	if stored != (helperCreds{ServerURL: dockerHubAuthKey, Username: "<token>", Secret: "rt"}) {
		t.Fatalf("helper got %s", b)
	}
	if got := mustGet(t, f, "docker.io"); got != (Credentials{IdentityToken: "rt"}) {
		t.Fatalf("Get(docker.io) = %+v", got)
	}

	if err := f.Erase("docker.io"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(bin, "erased")); string(b) != dockerHubAuthKey {
		t.Fatalf("erased %q", b)
	}
	var auths map[string]any
	json.Unmarshal(readJSON(t, path)["auths"], &auths)
	if _, ok := auths[dockerHubAuthKey]; ok || len(auths) != 1 {
		t.Fatalf("auths after erase: %v", auths)
	}

	os.WriteFile(path, []byte(`{"credsStore": "absent-helper"}`), 0o600)
	if _, err := f.Get("x"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("missing helper: %v", err)
	}
}
