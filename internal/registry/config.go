package registry

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// Config configures a Server.
type Config struct {
	Addr     string         // listen address, ":5000"
	Storage  storage.Driver // required
	Htpasswd string         // htpasswd file with bcrypt entries; "" = no authentication
	// Access lists per-user, per-repository rights. Empty: every htpasswd
	// user may pull, push and delete everything. User "*" is any
	// authenticated user, "anonymous" a request without credentials.
	Access   []AccessRule
	TokenKey []byte // HMAC key for bearer tokens; empty = random per process
	TLSCert  string
	TLSKey   string
	Logger   *slog.Logger // JSON access log; nil = discard

	MaxManifestSize int64         // default 4 MiB
	MaxPageSize     int           // clamp for n in tag and catalog lists, default 1000
	ChunkMinLength  int64         // advertised OCI-Chunk-Min-Length, default 5 MiB
	GCGracePeriod   time.Duration // GC never deletes younger blobs; default 1 h
	UploadExpiry    time.Duration // uploads older than this are dropped; default 24 h
	TokenTTL        time.Duration // bearer token lifetime, default 15 min
}

// AccessRule grants Actions (pull, push, delete, or "*") on the repositories
// matching Repos (a path.Match glob; "*" alone matches every repository) to
// User.
type AccessRule struct {
	User    string   `yaml:"user"`
	Repos   string   `yaml:"repos"`
	Actions []string `yaml:"actions"`
}

const (
	defaultMaxManifestSize = 4 << 20
	defaultMaxPageSize     = 1000
	defaultChunkMinLength  = 5 << 20
	defaultGCGracePeriod   = time.Hour
	defaultUploadExpiry    = 24 * time.Hour
	defaultTokenTTL        = 15 * time.Minute
)

func (c *Config) setDefaults() {
	if c.MaxManifestSize <= 0 {
		c.MaxManifestSize = defaultMaxManifestSize
	}
	if c.MaxPageSize <= 0 {
		c.MaxPageSize = defaultMaxPageSize
	}
	if c.ChunkMinLength <= 0 {
		c.ChunkMinLength = defaultChunkMinLength
	}
	if c.GCGracePeriod <= 0 {
		c.GCGracePeriod = defaultGCGracePeriod
	}
	if c.UploadExpiry <= 0 {
		c.UploadExpiry = defaultUploadExpiry
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = defaultTokenTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// FileConfig is a configuration file: every Config setting except the live
// storage driver, which the caller builds from Storage.
type FileConfig struct {
	Config
	Storage StorageConfig
}

// StorageConfig selects one storage backend.
type StorageConfig struct {
	Filesystem *FilesystemStorage `yaml:"filesystem"`
	S3         *S3Storage         `yaml:"s3"`
}

// FilesystemStorage keeps everything under a local directory.
type FilesystemStorage struct {
	Root string `yaml:"root"`
}

// S3Storage keeps everything in an S3 bucket. Credentials left empty come
// from the environment.
type S3Storage struct {
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	PathStyle bool   `yaml:"pathstyle"`
	Prefix    string `yaml:"prefix"`
	AccessKey string `yaml:"accesskey"`
	SecretKey string `yaml:"secretkey"`
}

// fileConfig is the YAML document:
//
//	addr: ":5000"
//	storage:
//	  filesystem: {root: /var/lib/strata-registry}
//	  # or s3: {endpoint: ..., bucket: ..., region: ..., pathstyle: true}
//	auth:
//	  htpasswd: /etc/strata/htpasswd
//	  token_key: "shared secret"     # same on every process behind one name
//	  token_ttl: 15m
//	access:
//	  - {user: alice, repos: "*", actions: [pull, push, delete]}
//	  - {user: anonymous, repos: "public/*", actions: [pull]}
//	tls: {cert: cert.pem, key: key.pem}
//	limits: {max_manifest_size: 4194304, max_page_size: 1000, chunk_min_length: 5242880}
//	gc: {grace_period: 1h, upload_expiry: 24h}
type fileConfig struct {
	Addr    string        `yaml:"addr"`
	Storage StorageConfig `yaml:"storage"`
	Auth    struct {
		Htpasswd string        `yaml:"htpasswd"`
		TokenKey string        `yaml:"token_key"`
		TokenTTL time.Duration `yaml:"token_ttl"`
	} `yaml:"auth"`
	Access []AccessRule `yaml:"access"`
	TLS    struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Limits struct {
		MaxManifestSize int64 `yaml:"max_manifest_size"`
		MaxPageSize     int   `yaml:"max_page_size"`
		ChunkMinLength  int64 `yaml:"chunk_min_length"`
	} `yaml:"limits"`
	GC struct {
		GracePeriod  time.Duration `yaml:"grace_period"`
		UploadExpiry time.Duration `yaml:"upload_expiry"`
	} `yaml:"gc"`
}

// LoadConfig reads a YAML configuration file. Unknown keys are errors, so a
// typo does not silently fall back to a default.
func LoadConfig(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("read registry config: %w", err)
	}
	return parseConfig(data, path)
}

func parseConfig(data []byte, name string) (FileConfig, error) {
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && err.Error() != "EOF" {
		return FileConfig{}, errdefs.Newf(errdefs.ErrInvalidArgument, "registry config %s: %v", name, err)
	}
	out := FileConfig{
		Config: Config{
			Addr:            fc.Addr,
			Htpasswd:        fc.Auth.Htpasswd,
			Access:          fc.Access,
			TLSCert:         fc.TLS.Cert,
			TLSKey:          fc.TLS.Key,
			MaxManifestSize: fc.Limits.MaxManifestSize,
			MaxPageSize:     fc.Limits.MaxPageSize,
			ChunkMinLength:  fc.Limits.ChunkMinLength,
			GCGracePeriod:   fc.GC.GracePeriod,
			UploadExpiry:    fc.GC.UploadExpiry,
			TokenTTL:        fc.Auth.TokenTTL,
		},
		Storage: fc.Storage,
	}
	if fc.Auth.TokenKey != "" {
		out.TokenKey = []byte(fc.Auth.TokenKey)
	}
	if out.Addr == "" {
		out.Addr = ":5000"
	}
	if err := out.validate(); err != nil {
		return FileConfig{}, errdefs.Newf(errdefs.ErrInvalidArgument, "registry config %s: %v", name, err)
	}
	return out, nil
}

func (fc *FileConfig) validate() error {
	s := fc.Storage
	switch {
	case s.Filesystem != nil && s.S3 != nil:
		return fmt.Errorf("storage: choose one of filesystem and s3")
	case s.Filesystem != nil && s.Filesystem.Root == "":
		return fmt.Errorf("storage.filesystem.root is empty")
	case s.S3 != nil && s.S3.Bucket == "":
		return fmt.Errorf("storage.s3.bucket is empty")
	case s.Filesystem == nil && s.S3 == nil:
		return fmt.Errorf("storage: no backend configured (filesystem or s3)")
	}
	if (fc.TLSCert == "") != (fc.TLSKey == "") {
		return fmt.Errorf("tls: cert and key must be set together")
	}
	return validateAccess(fc.Access)
}

func validateAccess(rules []AccessRule) error {
	for i, r := range rules {
		if r.User == "" || r.Repos == "" {
			return fmt.Errorf("access rule %d: user and repos are required", i)
		}
		for _, a := range r.Actions {
			switch a {
			case actionPull, actionPush, actionDelete, "*":
			default:
				return fmt.Errorf("access rule %d: unknown action %q (want pull, push, delete or *)", i, a)
			}
		}
	}
	return nil
}
