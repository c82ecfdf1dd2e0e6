package image

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// topKeys returns the keys of a JSON object in the order written.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestInspectView(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(dockerConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	cfg.History[1].Comment = "from history"
	id := sha("config bytes")
	tagged := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	v := NewInspectView(id, cfg, []string{"busybox:latest"}, nil, "", 4242, "overlay", tagged)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author",
		"Config", "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"}
	if got := topKeys(t, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v\nwant %v", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"Id":            id.String(),
		"Created":       "2024-01-02T03:04:05.123456789Z",
		"Comment":       "from history",
		"DockerVersion": "24.0.7",
		"Size":          float64(4242),
		"Os":            "linux",
	}
	for k, w := range checks {
		if back[k] != w {
			t.Errorf("%s = %v, want %v", k, back[k], w)
		}
	}
	if rd, ok := back["RepoDigests"].([]any); !ok || len(rd) != 0 {
		t.Errorf("RepoDigests = %v, want []", back["RepoDigests"])
	}
	rootfs := back["RootFS"].(map[string]any)
	if rootfs["Type"] != "layers" || len(rootfs["Layers"].([]any)) != 1 {
		t.Errorf("RootFS = %v", rootfs)
	}
	gd := back["GraphDriver"].(map[string]any)
	if gd["Name"] != "overlay" {
		t.Errorf("GraphDriver = %v", gd)
	}
	if md := back["Metadata"].(map[string]any); md["LastTagTime"] != "2025-01-02T03:04:05.000000006Z" {
		t.Errorf("Metadata = %v", md)
	}
	config := back["Config"].(map[string]any)
	for _, k := range []string{"Hostname", "Domainname", "User", "AttachStdin", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels", "ExposedPorts", "Healthcheck"} {
		if _, ok := config[k]; !ok {
			t.Errorf("Config lacks %s", k)
		}
	}

	// Unknown creation time and never tagged: Created is omitted and
	// LastTagTime is the zero time, as Docker prints them.
	cfg.Created = nil
	cfg.Variant = "v8"
	v = NewInspectView(id, cfg, nil, nil, "sha256:parent", 0, "vfs", time.Time{})
	b, _ = json.Marshal(v)
	keys := topKeys(t, b)
	for _, k := range keys {
		if k == "Created" {
			t.Error("Created printed although unknown")
		}
	}
	if keys[8] != "Architecture" || keys[9] != "Variant" {
		t.Errorf("Variant placement: %v", keys)
	}
	if v.Metadata.LastTagTime != "0001-01-01T00:00:00Z" || v.Parent != "sha256:parent" || v.RepoTags == nil {
		t.Errorf("defaults: %+v", v)
	}
}
