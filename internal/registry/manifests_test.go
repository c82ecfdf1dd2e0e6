package registry

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/registry/storage"
)

func TestManifests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		img := e.pushImage("lib/app", "v1", nil)

		for _, ref := range []string{"v1", img.digest.String()} {
			r := e.do("GET", "/v2/lib/app/manifests/"+ref, nil, "Accept", v1.MediaTypeImageManifest).want(t, 200)
			if !bytes.Equal(r.body, img.manifest) || r.Header.Get("Content-Type") != v1.MediaTypeImageManifest ||
				r.Header.Get("Docker-Content-Digest") != img.digest.String() {
				t.Fatalf("GET manifest %s: %v", ref, r.Header)
			}
			r = e.do("HEAD", "/v2/lib/app/manifests/"+ref, nil).want(t, 200)
			if r.Header.Get("Content-Length") != strconv.Itoa(len(img.manifest)) || len(r.body) != 0 {
				t.Fatalf("HEAD manifest %s: %v", ref, r.Header)
			}
		}
		// The manifest is a blob of the repository too.
		e.do("GET", "/v2/lib/app/blobs/"+img.digest.String(), nil).want(t, 200)
		e.do("GET", "/v2/lib/app/manifests/nope", nil).want(t, 404, "MANIFEST_UNKNOWN")
		e.do("GET", "/v2/other/manifests/v1", nil).want(t, 404, "MANIFEST_UNKNOWN")
		e.do("GET", "/v2/other/manifests/"+img.digest.String(), nil).want(t, 404, "MANIFEST_UNKNOWN")

		// Tag a second time, by digest with ?tag=.
		r := e.do("PUT", "/v2/lib/app/manifests/"+img.digest.String()+"?tag=v2&tag=latest", img.manifest, "Content-Type", v1.MediaTypeImageManifest).want(t, 201)
		if got := r.Header.Values("OCI-Tag"); len(got) != 2 || r.Header.Get("Location") != "/v2/lib/app/manifests/"+img.digest.String() {
			t.Fatalf("PUT by digest with tags: %v", r.Header)
		}
		e.do("GET", "/v2/lib/app/manifests/latest", nil).want(t, 200)

		// DELETE a tag: the manifest stays.
		e.do("DELETE", "/v2/lib/app/manifests/v2", nil).want(t, 202)
		e.do("GET", "/v2/lib/app/manifests/v2", nil).want(t, 404, "MANIFEST_UNKNOWN")
		e.do("DELETE", "/v2/lib/app/manifests/v2", nil).want(t, 404, "MANIFEST_UNKNOWN")
		e.do("GET", "/v2/lib/app/manifests/v1", nil).want(t, 200)
		// DELETE by digest: the manifest and every tag on it go.
		e.do("DELETE", "/v2/lib/app/manifests/"+img.digest.String(), nil).want(t, 202)
		for _, ref := range []string{"v1", "latest", img.digest.String()} {
			e.do("GET", "/v2/lib/app/manifests/"+ref, nil).want(t, 404, "MANIFEST_UNKNOWN")
		}
		e.do("DELETE", "/v2/lib/app/manifests/"+img.digest.String(), nil).want(t, 404, "MANIFEST_UNKNOWN")
		r = e.do("GET", "/v2/lib/app/tags/list", nil).want(t, 200)
		if !strings.Contains(string(r.body), `"tags":[]`) {
			t.Fatalf("tags left after manifest delete: %s", r.body)
		}
	})
}

func TestManifestValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{MaxManifestSize: 64 << 10})
		img := e.pushImage("val", "base", nil)
		put := func(ref, ct string, body []byte) resp {
			return e.do("PUT", "/v2/val/manifests/"+ref, body, "Content-Type", ct)
		}
		// Digest reference must match the body.
		put(sha256Of([]byte("x")).String(), v1.MediaTypeImageManifest, img.manifest).want(t, 400, "DIGEST_INVALID")
		// Content-Type is required and must agree with mediaType.
		e.do("PUT", "/v2/val/manifests/t", img.manifest).want(t, 400, "MANIFEST_INVALID")
		put("t", mtDockerManifest, img.manifest).want(t, 400, "MANIFEST_INVALID")
		put("t", v1.MediaTypeImageManifest, []byte("{not json")).want(t, 400, "MANIFEST_INVALID")
		put("t", v1.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)).want(t, 400, "MANIFEST_INVALID")
		put("-bad", v1.MediaTypeImageManifest, img.manifest).want(t, 400, "MANIFEST_INVALID")
		put(img.digest.String()+"?tag=-bad", v1.MediaTypeImageManifest, img.manifest).want(t, 400, "MANIFEST_INVALID")
		put(strings.Repeat("t", 129), v1.MediaTypeImageManifest, img.manifest).want(t, 400, "MANIFEST_INVALID")

		// Missing layer and config blobs.
		missing := sha256Of([]byte("missing layer"))
		m := v1.Manifest{MediaType: v1.MediaTypeImageManifest,
			Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: img.config, Size: 1},
			Layers: []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: missing, Size: 1}}}
		m.SchemaVersion = 2
		body, _ := json.Marshal(m)
		r := put("t", v1.MediaTypeImageManifest, body).want(t, 404, "MANIFEST_BLOB_UNKNOWN")
		if !strings.Contains(string(r.body), missing.String()) {
			t.Fatalf("error does not name the missing blob: %s", r.body)
		}
		// A blob of another repository does not count.
		foreign := e.pushBlob("elsewhere", []byte("foreign"))
		m.Layers[0].Digest = foreign
		body, _ = json.Marshal(m)
		put("t", v1.MediaTypeImageManifest, body).want(t, 404, "MANIFEST_BLOB_UNKNOWN")
		// A foreign (urls) layer is not checked.
		m.Layers[0].URLs = []string{"https://example.com/layer"}
		body, _ = json.Marshal(m)
		put("t", v1.MediaTypeImageManifest, body).want(t, 201)

		// Index referencing a missing manifest, then an existing one.
		idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{
			{MediaType: v1.MediaTypeImageManifest, Digest: img.digest, Size: int64(len(img.manifest))},
			{MediaType: v1.MediaTypeImageManifest, Digest: missing, Size: 10},
		}}
		idx.SchemaVersion = 2
		body, _ = json.Marshal(idx)
		put("multi", v1.MediaTypeImageIndex, body).want(t, 404, "MANIFEST_BLOB_UNKNOWN")
		idx.Manifests = idx.Manifests[:1]
		body, _ = json.Marshal(idx)
		r = put("multi", v1.MediaTypeImageIndex, body).want(t, 201)
		got := e.do("GET", "/v2/val/manifests/multi", nil).want(t, 200)
		if got.Header.Get("Content-Type") != v1.MediaTypeImageIndex || got.Header.Get("Docker-Content-Digest") != r.Header.Get("Docker-Content-Digest") {
			t.Fatalf("index GET: %v", got.Header)
		}

		// Docker schema2 types, without a mediaType field: served with the
		// stored Content-Type.
		dm := []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + img.config.String() + `","size":1},"layers":[]}`)
		put("docker", mtDockerManifest, dm).want(t, 201)
		got = e.do("GET", "/v2/val/manifests/docker", nil).want(t, 200)
		if got.Header.Get("Content-Type") != mtDockerManifest || !bytes.Equal(got.body, dm) {
			t.Fatalf("docker manifest GET: %v", got.Header)
		}
		dl := []byte(`{"schemaVersion":2,"mediaType":"` + mtDockerList + `","manifests":[{"mediaType":"` + mtDockerManifest + `","digest":"` + sha256Of(dm).String() + `","size":1}]}`)
		put("dockerlist", mtDockerList, dl).want(t, 201)
		// An unknown media type is stored as it is.
		put("other", "application/vnd.example.thing+json", []byte(`{"hello":"world"}`)).want(t, 201)
		got = e.do("GET", "/v2/val/manifests/other", nil).want(t, 200)
		if got.Header.Get("Content-Type") != "application/vnd.example.thing+json" {
			t.Fatalf("other media type: %v", got.Header)
		}

		// Size limit: 413.
		big := bytes.Repeat([]byte(" "), 64<<10+1)
		put("big", v1.MediaTypeImageManifest, big).want(t, 413, "SIZE_INVALID")
	})
}

func TestManifestDefaultSizeLimit(t *testing.T) {
	e := newEnv(t, nil, Config{})
	img := e.pushImage("limit", "x", nil)
	var m v1.Manifest
	json.Unmarshal(img.manifest, &m)
	m.Annotations = map[string]string{"pad": strings.Repeat("a", 4<<20)}
	body, _ := json.Marshal(m)
	e.do("PUT", "/v2/limit/manifests/big", body, "Content-Type", v1.MediaTypeImageManifest).want(t, 413, "SIZE_INVALID")
	m.Annotations["pad"] = strings.Repeat("a", 4<<20-len(img.manifest)-100)
	body, _ = json.Marshal(m)
	if len(body) > 4<<20 {
		t.Fatalf("test manifest too big: %d", len(body))
	}
	e.do("PUT", "/v2/limit/manifests/fits", body, "Content-Type", v1.MediaTypeImageManifest).want(t, 201)
}

func TestReferrers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, drv storage.Driver) {
		e := newEnv(t, drv, Config{})
		subject := e.pushImage("ref", "v1", nil)
		subjDesc := &v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: subject.digest, Size: int64(len(subject.manifest))}

		// Nothing yet: 200 and an empty index.
		r := e.do("GET", "/v2/ref/referrers/"+subject.digest.String(), nil).want(t, 200)
		idx := decodeIndex(t, r)
		if len(idx.Manifests) != 0 || r.Header.Get("Content-Type") != v1.MediaTypeImageIndex {
			t.Fatalf("empty referrers: %s", r.body)
		}
		sig := e.pushImage("ref", "", func(m *v1.Manifest) {
			m.ArtifactType = "application/vnd.example.signature"
			m.Subject = subjDesc
			m.Annotations = map[string]string{"who": "me"}
		})
		sbom := e.pushImage("ref", "", func(m *v1.Manifest) {
			m.Config.MediaType = "application/vnd.example.sbom"
			m.Subject = subjDesc
		})
		// OCI-Subject is returned on push.
		var m v1.Manifest
		json.Unmarshal(sig.manifest, &m)
		r = e.do("PUT", "/v2/ref/manifests/"+sig.digest.String(), sig.manifest, "Content-Type", v1.MediaTypeImageManifest).want(t, 201)
		if r.Header.Get("OCI-Subject") != subject.digest.String() {
			t.Fatalf("OCI-Subject = %q", r.Header.Get("OCI-Subject"))
		}

		r = e.do("GET", "/v2/ref/referrers/"+subject.digest.String(), nil).want(t, 200)
		idx = decodeIndex(t, r)
		types := map[digest.Digest]string{}
		for _, d := range idx.Manifests {
			types[d.Digest] = d.ArtifactType
		}
		if len(idx.Manifests) != 2 || types[sig.digest] != "application/vnd.example.signature" || types[sbom.digest] != "application/vnd.example.sbom" {
			t.Fatalf("referrers: %s", r.body)
		}
		for _, d := range idx.Manifests {
			if d.Digest == sig.digest && d.Annotations["who"] != "me" {
				t.Fatalf("annotations not copied: %s", r.body)
			}
		}
		// Filter.
		r = e.do("GET", "/v2/ref/referrers/"+subject.digest.String()+"?artifactType=application/vnd.example.sbom", nil).want(t, 200)
		idx = decodeIndex(t, r)
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sbom.digest || r.Header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Fatalf("filtered referrers: %v %s", r.Header, r.body)
		}
		// A referrer pushed before its subject exists is accepted.
		ghost := sha256Of([]byte("ghost"))
		e.pushImage("ref", "", func(m *v1.Manifest) {
			m.Subject = &v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: ghost, Size: 5}
		})
		r = e.do("GET", "/v2/ref/referrers/"+ghost.String(), nil).want(t, 200)
		if len(decodeIndex(t, r).Manifests) != 1 {
			t.Fatalf("ghost referrers: %s", r.body)
		}
		// Deleting a referrer removes it; other repositories see nothing.
		e.do("DELETE", "/v2/ref/manifests/"+sbom.digest.String(), nil).want(t, 202)
		r = e.do("GET", "/v2/ref/referrers/"+subject.digest.String(), nil).want(t, 200)
		if idx = decodeIndex(t, r); len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sig.digest {
			t.Fatalf("after delete: %s", r.body)
		}
		r = e.do("GET", "/v2/unknown/referrers/"+subject.digest.String(), nil).want(t, 200)
		if len(decodeIndex(t, r).Manifests) != 0 {
			t.Fatal("referrers leaked across repositories")
		}
		e.do("GET", "/v2/ref/referrers/sha256:123", nil).want(t, 400, "DIGEST_INVALID")
		e.do("GET", "/v2/ref/referrers/v1", nil).want(t, 400, "DIGEST_INVALID")
	})
}

func decodeIndex(t *testing.T, r resp) v1.Index {
	t.Helper()
	var idx v1.Index
	if err := json.Unmarshal(r.body, &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != v1.MediaTypeImageIndex {
		t.Fatalf("not an image index (%v): %s", err, r.body)
	}
	return idx
}
