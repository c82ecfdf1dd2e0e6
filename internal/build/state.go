package build

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/unpack"
)

// state is an image under construction: its config, its layers and the
// cache key of the step that produced it.
type state struct {
	Config image.Config       `json:"config"`
	Layers []imagestore.Layer `json:"layers"`
	key    string
	base   string // the base image's name, for messages
}

// clone returns a copy that can be changed without touching s.
func (s *state) clone() *state {
	var n state
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &n)
	n.key, n.base = s.key, s.base
	return &n
}

// scratchState is the empty image of `FROM scratch`.
func scratchState(platformOS, arch, variant string) *state {
	return &state{Config: image.Config{
		OS: platformOS, Architecture: arch, Variant: variant,
		RootFS: image.RootFS{Type: image.RootFSTypeLayers, DiffIDs: []digest.Digest{}},
		Config: image.ContainerConfig{Env: []string{"PATH=" + defaultPath}},
	}}
}

// defaultPath is the PATH BuildKit gives an image that sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// unpackLayers is the state's layers as the unpacker wants them.
func (s *state) unpackLayers() []unpack.Layer {
	out := make([]unpack.Layer, len(s.Layers))
	for i, l := range s.Layers {
		out[i] = unpack.Layer{Blob: l.Digest, DiffID: l.DiffID}
	}
	return out
}

// addHistory appends a history entry and, when layer is set, the layer.
func (s *state) addHistory(createdBy string, layer *imagestore.Layer, now time.Time) {
	h := image.History{Created: &now, CreatedBy: createdBy, EmptyLayer: layer == nil}
	if layer != nil {
		s.Layers = append(s.Layers, *layer)
		s.Config.RootFS.DiffIDs = append(s.Config.RootFS.DiffIDs, layer.DiffID)
	}
	s.Config.History = append(s.Config.History, h)
	s.Config.Created = &now
}

// nop is the created_by text of a step that only changes the config,
// as Docker's classic builder writes it: `/bin/sh -c #(nop)  CMD ["x"]`.
func (s *state) nop(text string) string {
	return s.shellPrefix() + " #(nop)  " + text
}

// shellPrefix is the shell form prefix: SHELL's value, else /bin/sh -c.
func (s *state) shellPrefix() string {
	return strings.Join(s.shell(), " ")
}

func (s *state) shell() []string {
	if len(s.Config.Config.Shell) > 0 {
		return s.Config.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// result is what a cache entry stores.
func (s *state) result() ([]byte, error) {
	return json.Marshal(s)
}

// stateFromResult is the inverse of result.
func stateFromResult(b []byte, key string) (*state, error) {
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("build cache entry %s is corrupt: %w", key, err)
	}
	s.key = key
	return &s, nil
}

// blobs are the layer blobs the state needs.
func (s *state) blobs() []digest.Digest {
	out := make([]digest.Digest, len(s.Layers))
	for i, l := range s.Layers {
		out[i] = l.Digest
	}
	return out
}
