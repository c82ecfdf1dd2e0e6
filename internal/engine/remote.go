package engine

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/remote"
)

// DefaultConfigFile is where registry settings are read from unless
// $STRATA_CONFIG names another file. It takes the keys of Docker's
// daemon.json that concern registries and transfers.
const DefaultConfigFile = "/etc/strata/daemon.json"

// Config is the part of the config file strata reads.
type Config struct {
	Mirrors  []string `json:"registry-mirrors"`    // for docker.io, as Docker's
	Insecure []string `json:"insecure-registries"` // host[:port] or CIDR
	CertsDir string   `json:"certs-dir"`           // certs.d-style directory
	// Layers a pull downloads and a push uploads at once; 0 means Docker's
	// defaults, 3 and 5.
	MaxDownloads int `json:"max-concurrent-downloads"`
	MaxUploads   int `json:"max-concurrent-uploads"`
}

// Config reads the config file; a missing file is the empty config.
func (e *Engine) Config() (Config, error) {
	path := os.Getenv("STRATA_CONFIG")
	if path == "" {
		path = DefaultConfigFile
	}
	var c Config
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errdefs.Newf(errdefs.ErrInvalidArgument, "config file %s: %v", path, err)
	}
	if c.MaxDownloads < 0 || c.MaxUploads < 0 {
		return c, errdefs.Newf(errdefs.ErrInvalidArgument,
			"config file %s: max-concurrent-downloads and max-concurrent-uploads must not be negative", path)
	}
	return c, nil
}

// Remote reads the config file and returns a registry client with its
// mirrors, insecure registries and certificates and Docker's credentials
// file, and the config (for its transfer limits).
func (e *Engine) Remote() (*remote.Client, Config, error) {
	c, err := e.Config()
	if err != nil {
		return nil, c, err
	}
	hosts := remote.HostConfig{Insecure: c.Insecure, CertsDir: c.CertsDir}
	if len(c.Mirrors) > 0 {
		hosts.Mirrors = map[string][]string{"docker.io": c.Mirrors}
	}
	auth, err := remote.NewConfigFile("")
	if err != nil {
		return nil, c, err
	}
	return remote.NewClient(hosts, auth, "strata"), c, nil
}
