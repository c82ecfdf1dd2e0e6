package imagearchive

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/reference"
)

// dockerPlans reads manifest.json. Where the archive also has an index.json
// (the Docker 25+ layout, and strata's own), its manifest for the same config
// is kept if it describes exactly the layers found, so that a save and load
// round trip keeps the manifest digest.
func (rd *reader) dockerPlans() ([]*plan, error) {
	raw, err := rd.smallFile(fileManifest, fileManifest, "file")
	if err != nil {
		return nil, err
	}
	var items []manifestItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: %v", fileManifest, err)
	}
	if len(items) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s lists no image", fileManifest)
	}
	candidates := rd.indexManifestsByConfig()
	plans := make([]*plan, 0, len(items))
	for _, it := range items {
		p, err := rd.dockerPlan(it)
		if err != nil {
			return nil, err
		}
		p.candidate = candidates[p.id]
		plans = append(plans, p)
	}
	return plans, nil
}

func (rd *reader) dockerPlan(it manifestItem) (*plan, error) {
	if it.Config == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s: an entry has no Config", fileManifest)
	}
	cfg, err := rd.smallFile(fileManifest, it.Config, "config")
	if err != nil {
		return nil, err
	}
	p := &plan{source: fileManifest, config: cfg, id: digest.FromBytes(cfg)}
	for _, t := range it.RepoTags {
		ref, err := parseTag(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileManifest, err)
		}
		p.tags = append(p.tags, ref)
	}
	for _, l := range it.Layers {
		p.layers = append(p.layers, planLayer{path: l})
	}
	if it.Parent != "" && it.Parent.Validate() == nil {
		p.parent = it.Parent
	}
	return p, nil
}

// parseTag reads a RepoTags entry: a name with a tag (":latest" when none).
func parseTag(s string) (reference.Reference, error) {
	ref, err := reference.Parse(s)
	if err != nil {
		return reference.Reference{}, fmt.Errorf("repo tag %q: %w", s, err)
	}
	if ref.Digest != "" {
		return reference.Reference{}, errdefs.Newf(errdefs.ErrInvalidArgument, "repo tag %q: a tag may not carry a digest", s)
	}
	return ref, nil
}

// indexManifestsByConfig returns the image manifests index.json leads to
// (for the host platform), by config digest. It is best effort: any problem
// just means no manifest is kept.
func (rd *reader) indexManifestsByConfig() map[digest.Digest]*ociManifest {
	if rd.lookup(fileIndex) == nil {
		return nil
	}
	idx, err := rd.parseIndexFile()
	if err != nil {
		return nil
	}
	out := map[digest.Digest]*ociManifest{}
	for _, d := range idx.Manifests {
		if om, err := rd.resolveManifest(d, 0); err == nil && om != nil {
			out[om.m.Config.Digest] = om
		}
	}
	return out
}

// fits reports whether the manifest describes exactly the config and the
// layers p was checked to have.
func (om *ociManifest) fits(p *plan) bool {
	if om.m.Config.Digest != p.id || om.m.Config.Size != int64(len(p.config)) || len(om.m.Layers) != len(p.layers) {
		return false
	}
	for i, d := range om.m.Layers {
		lb := p.layers[i].entry.layer
		if d.Digest != lb.digest || d.Size != lb.size || !sameCompression(d.MediaType, lb) {
			return false
		}
	}
	return true
}
