package image

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// InspectView is one element of `strata image inspect`, with the field
// names and order of `docker image inspect` (API 1.45 to 1.49).
type InspectView struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string `json:",omitempty"`
	DockerVersion string
	Author        string
	Config        *ContainerConfig
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	OsVersion     string `json:",omitempty"`
	Size          int64
	GraphDriver   GraphDriverView
	RootFS        RootFSView
	Metadata      MetadataView
}

// GraphDriverView names the storage driver and its per-image data.
type GraphDriverView struct {
	Data map[string]string
	Name string
}

// RootFSView lists the image's layer diff IDs.
type RootFSView struct {
	Type   string   `json:",omitempty"`
	Layers []string `json:",omitempty"`
}

// MetadataView holds store metadata; LastTagTime is RFC 3339 with
// nanoseconds, the zero time when the image was never tagged.
type MetadataView struct {
	LastTagTime string
}

// NewInspectView builds the inspect view of the image id with config cfg.
// parent is the local parent image ID ("" if none), size the unpacked size,
// driver the snapshotter name and lastTag the last time a tag was set. Nil
// tag lists print as [], and an empty comment falls back to the last history
// entry's, as Docker does.
func NewInspectView(id digest.Digest, cfg *Config, repoTags, repoDigests []string, parent string, size int64, driver string, lastTag time.Time) InspectView {
	v := InspectView{
		ID:            id.String(),
		RepoTags:      nonNil(repoTags),
		RepoDigests:   nonNil(repoDigests),
		Parent:        parent,
		Comment:       cfg.Comment,
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		OsVersion:     cfg.OSVersion,
		Size:          size,
		GraphDriver:   GraphDriverView{Name: driver},
		RootFS:        RootFSView{Type: cfg.RootFS.Type},
		Metadata:      MetadataView{LastTagTime: lastTag.Format(time.RFC3339Nano)},
	}
	if v.Comment == "" && len(cfg.History) > 0 {
		v.Comment = cfg.History[len(cfg.History)-1].Comment
	}
	if cfg.Created != nil {
		v.Created = cfg.Created.Format(time.RFC3339Nano)
	}
	c := cfg.Config
	v.Config = &c
	for _, d := range cfg.RootFS.DiffIDs {
		v.RootFS.Layers = append(v.RootFS.Layers, d.String())
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
