package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/strata-dev/strata/internal/remote"
)

// DefaultConfigFile is where registry settings are read from unless
// $STRATA_CONFIG names another file. It takes the keys of Docker's
// daemon.json that concern registries.
const DefaultConfigFile = "/etc/strata/daemon.json"

// registryConfig is the registry part of the config file.
type registryConfig struct {
	Mirrors  []string `json:"registry-mirrors"`    // for docker.io, as Docker's
	Insecure []string `json:"insecure-registries"` // host[:port] or CIDR
	CertsDir string   `json:"certs-dir"`           // certs.d-style directory
}

// Remote returns a registry client with the config file's mirrors,
// insecure registries and certificates, and Docker's credentials file.
func (e *Engine) Remote() (*remote.Client, error) {
	path := os.Getenv("STRATA_CONFIG")
	if path == "" {
		path = DefaultConfigFile
	}
	var rc registryConfig
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &rc); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	hosts := remote.HostConfig{Insecure: rc.Insecure, CertsDir: rc.CertsDir}
	if len(rc.Mirrors) > 0 {
		hosts.Mirrors = map[string][]string{"docker.io": rc.Mirrors}
	}
	auth, err := remote.NewConfigFile("")
	if err != nil {
		return nil, err
	}
	return remote.NewClient(hosts, auth, "strata"), nil
}
