package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"github.com/strata-dev/strata/internal/errdefs"
)

func sha(s string) digest.Digest {
	sum := sha256.Sum256([]byte(s))
	return digest.Digest("sha256:" + hex.EncodeToString(sum[:]))
}

func TestChainIDs(t *testing.T) {
	t.Parallel()
	a, b, c := sha("layer a"), sha("layer b"), sha("layer c")
	got := ChainIDs([]digest.Digest{a, b, c})
	// Computed by hand from the spec's recursion.
	ab := sha(string(a) + " " + string(b))
	abc := sha(string(ab) + " " + string(c))
	want := []digest.Digest{a, ab, abc}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ChainIDs = %v, want %v", got, want)
	}
	// And against the image-spec's own implementation.
	if ref := identity.ChainIDs([]digest.Digest{a, b, c}); !reflect.DeepEqual(got, ref) {
		t.Fatalf("ChainIDs = %v, image-spec says %v", got, ref)
	}
	if ChainID([]digest.Digest{a, b, c}) != abc {
		t.Fatal("ChainID is not the last chain ID")
	}
	if ChainIDs(nil) != nil || ChainID(nil) != "" {
		t.Fatal("no layers must give no chain IDs")
	}
	if one := ChainIDs([]digest.Digest{a}); len(one) != 1 || one[0] != a {
		t.Fatalf("single layer chain ID = %v, want the diff ID", one)
	}
}

const dockerConfigJSON = `{
  "architecture": "amd64",
  "config": {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": "sh",
    "Image": "sha256:abc", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
    "OnBuild": null, "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}},
    "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000, "Retries": 3}
  },
  "container": "deadbeef",
  "created": "2024-01-02T03:04:05.123456789Z",
  "docker_version": "24.0.7",
  "history": [
    {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "},
    {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
  ],
  "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:` + "d4fc045c9e3a848011de66f34b81f052d4f2c15a17bb196d637e526349601820" + `"]},
  "unknown_field": {"ignored": true}
}`

func TestParseConfigDocker(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(dockerConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	if c.Architecture != "amd64" || c.OS != "linux" || c.DockerVersion != "24.0.7" || c.Container != "deadbeef" {
		t.Fatalf("top-level fields: %+v", c)
	}
	if want := (StrSlice{"sh"}); !reflect.DeepEqual(c.Config.Cmd, want) {
		t.Fatalf("string Cmd read as %q, want %q", c.Config.Cmd, want)
	}
	if c.Config.Healthcheck == nil || c.Config.Healthcheck.Interval != 30*time.Second || c.Config.Healthcheck.Retries != 3 {
		t.Fatalf("healthcheck: %+v", c.Config.Healthcheck)
	}
	if _, ok := c.Config.ExposedPorts["80/tcp"]; !ok || c.Config.Labels["a"] != "b" {
		t.Fatalf("ports/labels: %+v", c.Config)
	}
	if c.Created == nil || c.Created.Nanosecond() != 123456789 {
		t.Fatalf("created: %v", c.Created)
	}
	if len(c.History) != 2 || !c.History[1].EmptyLayer {
		t.Fatalf("history: %+v", c.History)
	}
}

func TestParseConfigRefusals(t *testing.T) {
	t.Parallel()
	good := "sha256:" + strings.Repeat("a", 64)
	cases := map[string]string{
		"not json":         `{`,
		"wrong type":       `{"rootfs": {"type": "layers+base", "diff_ids": []}}`,
		"no rootfs":        `{"architecture": "amd64", "os": "linux"}`,
		"bad digest":       `{"rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}}`,
		"short digest":     `{"rootfs": {"type": "layers", "diff_ids": ["sha256:abcd"]}}`,
		"unknown algo":     `{"rootfs": {"type": "layers", "diff_ids": ["md5:d41d8cd98f00b204e9800998ecf8427e"]}}`,
		"history too few":  `{"rootfs": {"type": "layers", "diff_ids": ["` + good + `", "` + good + `"]}, "history": [{"created_by": "x"}, {"empty_layer": true}]}`,
		"history too many": `{"rootfs": {"type": "layers", "diff_ids": ["` + good + `"]}, "history": [{}, {}]}`,
	}
	for name, in := range cases {
		_, err := ParseConfig([]byte(in))
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
	}
	_, err := ParseConfig([]byte(cases["history too few"]))
	if err == nil || !strings.Contains(err.Error(), "1 non-empty layer entries but rootfs has 2 diff_ids") {
		t.Errorf("mismatch message unclear: %v", err)
	}
	// No history at all is fine, whatever the layer count.
	if _, err := ParseConfig([]byte(`{"rootfs": {"type": "layers", "diff_ids": ["` + good + `"]}}`)); err != nil {
		t.Errorf("config without history refused: %v", err)
	}
}

func TestConfigMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 5, 6, 7, 8, 9, 10, time.UTC)
	stop := 10
	c := &Config{
		Created: &created, Author: "me", Architecture: "arm64", Variant: "v8", OS: "linux",
		Config: ContainerConfig{
			User: "1000", Env: []string{"A=1"}, Cmd: []string{"/bin/sh"}, Entrypoint: []string{"tini", "--"},
			ExposedPorts: map[string]struct{}{"53/udp": {}}, Volumes: map[string]struct{}{"/data": {}},
			WorkingDir: "/app", Labels: map[string]string{"k": "v"}, StopSignal: "SIGINT", StopTimeout: &stop,
			Healthcheck: &HealthConfig{Test: []string{"NONE"}},
		},
		RootFS:  RootFS{Type: RootFSTypeLayers, DiffIDs: []digest.Digest{sha("x"), sha("y")}},
		History: []History{{Created: &created, CreatedBy: "ADD x"}, {CreatedBy: "ENV", EmptyLayer: true}, {CreatedBy: "ADD y"}},
	}
	b, id, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if id != sha(string(b)) {
		t.Fatalf("id %s is not the digest of the bytes", id)
	}
	back, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v", back, c)
	}
	b2, id2, err := back.Marshal()
	if err != nil || id2 != id || string(b2) != string(b) {
		t.Fatalf("marshal is not stable: %v", err)
	}
	// Field names follow the OCI and Docker formats.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"created", "author", "architecture", "variant", "os", "config", "rootfs", "history"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	if !strings.Contains(string(raw["config"]), `"ExposedPorts":{"53/udp":{}}`) ||
		!strings.Contains(string(raw["rootfs"]), `"diff_ids":[`) {
		t.Errorf("unexpected encoding: %s", b)
	}
	bad := *c
	bad.History = bad.History[:1]
	if _, _, err := bad.Marshal(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("marshal of inconsistent config: %v", err)
	}
}
