package remote

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Credentials authenticate to one registry. IdentityToken, when set, is an
// OAuth2 refresh token and takes the place of the password.
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string
}

// IsZero reports whether c holds no credential at all.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// AuthStore keeps registry credentials. Hosts are registry names as in
// references ("docker.io", "myreg:5000"). Get returns zero Credentials and
// no error when there are none.
type AuthStore interface {
	Get(host string) (Credentials, error)
	Store(host string, c Credentials) error
	Erase(host string) error
}

// ConfigFile is Docker's client configuration file, config.json, used as an
// AuthStore: "auths" entries (base64 "user:password" and identity tokens),
// "credsStore" and per-host "credHelpers" naming docker-credential-<name>
// programs. Every other field of the file is kept as it is on writes. The
// file is read on every call, so logins made meanwhile by docker are seen.
type ConfigFile struct {
	path string
	mu   sync.Mutex
}

// NewConfigFile opens the config file at path; "" means
// $DOCKER_CONFIG/config.json, or ~/.docker/config.json. A missing file is an
// empty configuration; a malformed one is an error (ErrCorrupt).
func NewConfigFile(path string) (*ConfigFile, error) {
	if path == "" {
		dir := os.Getenv("DOCKER_CONFIG")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "locating the docker config file: %v", err)
			}
			dir = filepath.Join(home, ".docker")
		}
		path = filepath.Join(dir, "config.json")
	}
	f := &ConfigFile{path: path}
	if _, err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's location.
func (f *ConfigFile) Path() string { return f.path }

// authEntry is one "auths" entry as Docker writes it.
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Email         string `json:"email,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

type configDoc struct {
	raw     map[string]json.RawMessage // every top-level field, kept on save
	auths   map[string]json.RawMessage
	helpers map[string]string
	store   string
}

func (f *ConfigFile) load() (*configDoc, error) {
	doc := &configDoc{raw: map[string]json.RawMessage{}, auths: map[string]json.RawMessage{}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "reading docker config file: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return doc, nil
	}
	bad := func(what string, err error) error {
		return errdefs.Newf(errdefs.ErrCorrupt, "docker config file %s: %s: %v", f.path, what, err)
	}
	if err := json.Unmarshal(b, &doc.raw); err != nil {
		return nil, bad("invalid JSON", err)
	}
	if doc.raw == nil {
		doc.raw = map[string]json.RawMessage{}
	}
	if v, ok := doc.raw["auths"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &doc.auths); err != nil {
			return nil, bad(`"auths"`, err)
		}
	}
	if v, ok := doc.raw["credHelpers"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &doc.helpers); err != nil {
			return nil, bad(`"credHelpers"`, err)
		}
	}
	if v, ok := doc.raw["credsStore"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &doc.store); err != nil {
			return nil, bad(`"credsStore"`, err)
		}
	}
	return doc, nil
}

// save writes doc atomically, through a symbolic link if the path is one,
// keeping the file's mode (0600 for a new file).
func (f *ConfigFile) save(doc *configDoc) error {
	auths, err := json.Marshal(doc.auths)
	if err != nil {
		return err
	}
	doc.raw["auths"] = auths
	out, err := json.MarshalIndent(doc.raw, "", "\t")
	if err != nil {
		return err
	}
	target := f.path
	if resolved, err := filepath.EvalSymlinks(target); err == nil {
		target = resolved
	}
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(target); err == nil {
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errdefs.Newf(errdefs.ErrUnavailable, "writing docker config file: %v", err)
	}
	tmp, err := os.CreateTemp(dir, ".config.json-*")
	if err != nil {
		return errdefs.Newf(errdefs.ErrUnavailable, "writing docker config file: %v", err)
	}
	_, err = tmp.Write(append(out, '\n'))
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return errdefs.Newf(errdefs.ErrUnavailable, "writing docker config file %s: %v", target, err)
	}
	return nil
}

// configKey is the key Docker files a registry's credentials under.
func configKey(host string) string {
	if h := normalizeHost(host); h != dockerHubDomain {
		return h
	}
	return dockerHubAuthKey
}

// helperFor returns the credential helper configured for key, or "".
func (doc *configDoc) helperFor(key, host string) string {
	if h, ok := doc.helpers[key]; ok {
		return h
	}
	if h, ok := doc.helpers[host]; ok {
		return h
	}
	return doc.store
}

// matchingKeys returns the "auths" keys that name host: the exact key and
// any other spelling of the same registry ("https://myreg:5000/v1/").
func (doc *configDoc) matchingKeys(key string) []string {
	want := normalizeHost(key)
	var keys []string
	if _, ok := doc.auths[key]; ok {
		keys = append(keys, key)
	}
	for k := range doc.auths {
		if k != key && normalizeHost(k) == want {
			keys = append(keys, k)
		}
	}
	return keys
}

// Get returns the credentials stored for host.
func (f *ConfigFile) Get(host string) (Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.load()
	if err != nil {
		return Credentials{}, err
	}
	key := configKey(host)
	if helper := doc.helperFor(key, normalizeHost(host)); helper != "" {
		return helperGet(helper, key)
	}
	for _, k := range doc.matchingKeys(key) {
		var e authEntry
		if err := json.Unmarshal(doc.auths[k], &e); err != nil {
			return Credentials{}, errdefs.Newf(errdefs.ErrCorrupt, "docker config file %s: auths[%q]: %v", f.path, k, err)
		}
		c, err := e.credentials()
		if err != nil {
			return Credentials{}, errdefs.Newf(errdefs.ErrCorrupt, "docker config file %s: auths[%q]: %v", f.path, k, err)
		}
		if !c.IsZero() {
			return c, nil
		}
	}
	return Credentials{}, nil
}

func (e authEntry) credentials() (Credentials, error) {
	c := Credentials{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
	if e.Auth == "" {
		return c, nil
	}
	dec, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return Credentials{}, fmt.Errorf("invalid auth: %w", err)
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return Credentials{}, fmt.Errorf("invalid auth: no \":\" between user name and password")
	}
	c.Username, c.Password = user, pass
	return c, nil
}

// Store saves c for host: with the configured credential helper (leaving an
// empty "auths" entry, as Docker does), or base64-encoded in the file.
func (f *ConfigFile) Store(host string, c Credentials) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.load()
	if err != nil {
		return err
	}
	key := configKey(host)
	entry := []byte("{}")
	if helper := doc.helperFor(key, normalizeHost(host)); helper != "" {
		if err := helperStore(helper, key, c); err != nil {
			return err
		}
	} else {
		e := authEntry{IdentityToken: c.IdentityToken}
		if c.Username != "" || c.Password != "" {
			e.Auth = base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
		}
		if entry, err = json.Marshal(e); err != nil {
			return err
		}
	}
	doc.auths[key] = entry
	return f.save(doc)
}

// Erase removes host's credentials from the helper and the file.
func (f *ConfigFile) Erase(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.load()
	if err != nil {
		return err
	}
	key := configKey(host)
	if helper := doc.helperFor(key, normalizeHost(host)); helper != "" {
		if err := helperErase(helper, key); err != nil {
			return err
		}
	}
	keys := doc.matchingKeys(key)
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		delete(doc.auths, k)
	}
	return f.save(doc)
}
