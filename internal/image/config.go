package image

import (
	"bytes"
	// Make sha256, sha384 and sha512 available to go-digest's validation.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/errdefs"
)

// RootFSTypeLayers is the only rootfs type of an image config.
const RootFSTypeLayers = "layers"

// StrSlice is a list of strings that also reads a lone JSON string, as
// Docker's configs may hold `"Cmd": "echo hi"`. It is written as an array.
type StrSlice []string

// UnmarshalJSON accepts null, a string or an array of strings.
func (s *StrSlice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StrSlice{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// HealthConfig is a container health check, as in Docker's config. The
// durations are written as integer nanoseconds.
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// ContainerConfig is the "config" object of an image config, with Docker's
// container.Config field names (a superset of OCI's ImageConfig).
type ContainerConfig struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             StrSlice
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      StrSlice
	NetworkDisabled bool `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           StrSlice `json:",omitempty"`
}

// History describes one step that built the image.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// RootFS lists the uncompressed digests of the image's layers, bottom first.
type RootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

// Config is an image config blob: the OCI fields plus Docker's extras.
type Config struct {
	Created         *time.Time       `json:"created,omitempty"`
	Author          string           `json:"author,omitempty"`
	Architecture    string           `json:"architecture"`
	Variant         string           `json:"variant,omitempty"`
	OS              string           `json:"os"`
	OSVersion       string           `json:"os.version,omitempty"`
	OSFeatures      []string         `json:"os.features,omitempty"`
	Config          ContainerConfig  `json:"config"`
	RootFS          RootFS           `json:"rootfs"`
	History         []History        `json:"history,omitempty"`
	Comment         string           `json:"comment,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig *ContainerConfig `json:"container_config,omitempty"`
	Parent          string           `json:"parent,omitempty"`
}

// ParseConfig reads an image config blob. Unknown fields are ignored. It
// checks that rootfs.type is "layers", that every diff ID is a valid digest,
// and, when history is present, that its non-empty entries match the layers
// one for one.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid image config: %v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the invariants ParseConfig enforces.
func (c *Config) Validate() error {
	if c.RootFS.Type != RootFSTypeLayers {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid image config: rootfs type %q, want %q", c.RootFS.Type, RootFSTypeLayers)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "invalid image config: diff_ids[%d] %q: %v", i, d, err)
		}
	}
	if len(c.History) == 0 {
		return nil
	}
	layers := 0
	for _, h := range c.History {
		if !h.EmptyLayer {
			layers++
		}
	}
	if layers != len(c.RootFS.DiffIDs) {
		return errdefs.Newf(errdefs.ErrInvalidArgument,
			"invalid image config: history has %d non-empty layer entries but rootfs has %d diff_ids", layers, len(c.RootFS.DiffIDs))
	}
	return nil
}

// Marshal encodes a config strata creates and returns its bytes and their
// sha256 digest, which is the image ID. The config is validated first.
func (c *Config) Marshal() ([]byte, digest.Digest, error) {
	if err := c.Validate(); err != nil {
		return nil, "", err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, "", fmt.Errorf("encode image config: %w", err)
	}
	return b, digest.FromBytes(b), nil
}

// ChainIDs returns the OCI chain ID of every layer prefix:
// ChainID(L0) = DiffID(L0) and ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	if len(diffIDs) == 0 {
		return nil
	}
	out := make([]digest.Digest, len(diffIDs))
	out[0] = diffIDs[0]
	for i := 1; i < len(diffIDs); i++ {
		out[i] = digest.FromString(string(out[i-1]) + " " + string(diffIDs[i]))
	}
	return out
}

// ChainID returns the chain ID of the whole stack, "" for no layers.
func ChainID(diffIDs []digest.Digest) digest.Digest {
	ids := ChainIDs(diffIDs)
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}
