package image

import (
	"strings"
	"testing"
	"time"
)

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(manifestJSON(MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayer)))
	f.Add([]byte(manifestJSON("", MediaTypeOCIConfig, MediaTypeOCILayerZstd)))
	f.Add([]byte(indexJSON(MediaTypeDockerManifestList, entry(MediaTypeDockerManifest, dL1, "linux/arm/v7"))))
	f.Add([]byte(`{"schemaVersion":1,"fsLayers":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:","size":-5},"layers":null}`))
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err == nil {
			if m.SchemaVersion != 2 || m.Config.Digest.Validate() != nil {
				t.Fatalf("accepted invalid manifest: %+v", m)
			}
			// A parsed manifest can be rebuilt.
			if _, _, err := NewManifest(m.Config, m.Layers, m.MediaType == MediaTypeDockerManifest); err != nil && !strings.Contains(err.Error(), "not valid in a") {
				t.Fatalf("cannot rebuild parsed manifest: %v", err)
			}
		}
		if idx, err := ParseIndex(b); err == nil {
			_, _ = SelectManifest(idx, HostPlatform())
		}
		_, _ = DetectManifestType(b)
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(dockerConfigJSON))
	f.Add([]byte(`{"rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":"x","Entrypoint":["a"]}}`))
	f.Add([]byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:x"]},"history":[{"empty_layer":true}]}`))
	f.Add([]byte(`{"created":"not a time"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		out, id, err := c.Marshal()
		if err != nil {
			t.Fatalf("parsed config does not marshal: %v", err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("marshalled config does not parse: %v\n%s", err, out)
		}
		if _, id2, _ := back.Marshal(); id2 != id {
			t.Fatalf("marshal not stable: %s then %s", id, id2)
		}
		_ = NewInspectView(id, c, nil, nil, "", 0, "", time.Time{})
	})
}

func FuzzApplyChanges(f *testing.F) {
	seeds := []string{
		"CMD echo hi", `ENTRYPOINT ["a","b"]`, "ENV a=b c=d", "ENV a b", "EXPOSE 80 53/udp 1-3",
		"LABEL a=b", "USER x", "VOLUME /v", "WORKDIR rel", "ONBUILD RUN x", "STOPSIGNAL SIGTERM",
		"HEALTHCHECK --interval=1s CMD true", "RUN x", "FROM y", "ENV x=${y:-z}", "# escape=`\nENV a=b`\n  c=d",
		"COPY <<EOF /x\nhi\nEOF", "EXPOSE $P", "WORKDIR ${A:?err}", "ENV \\", "LABEL \"a",
	}
	for _, s := range seeds {
		f.Add(s, "ENV P=8080")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		c := ContainerConfig{Env: []string{"HOME=/root"}, WorkingDir: "/w"}
		if err := ApplyChanges(&c, []string{b, a}); err != nil {
			return
		}
		if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
			t.Fatalf("relative working dir %q", c.WorkingDir)
		}
	})
}
