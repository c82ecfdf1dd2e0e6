package registry

import (
	"encoding/json"
	"testing"

	"github.com/strata-dev/strata/test/testbin"
)

// TestPullThroughMirror pulls a Docker Hub name through a registry mirror
// (the config file's registry-mirrors): strata's registry stands in for
// docker.io, so nothing leaves the machine.
func TestPullThroughMirror(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "", registryOpts{})
	s := newSandbox(t)
	src := reg.addr + "/library/mirrored:v1"
	id := s.loadLayers(src, randomLayers(t, 150, 2, 16<<10))
	push := parsePush(t, s.ok("push", src))

	p := s.withRoot("pulled")
	conf, _ := json.Marshal(map[string][]string{"registry-mirrors": {"http://" + reg.addr}})
	testbin.WriteFile(t, p.conf, string(conf))
	m := reg.mark()
	pull := parsePull(t, p.ok("pull", "mirrored:v1"))
	if pull.digest != push.digest || pull.name != "docker.io/library/mirrored:v1" || pull.final != "Downloaded newer image for mirrored:v1" {
		t.Errorf("pull through the mirror: digest %s name %q status %q", pull.digest, pull.name, pull.final)
	}
	if got := p.out("inspect", "-f", "{{.Id}} {{.RepoTags}} {{.RepoDigests}}", "mirrored:v1"); got != id+" [mirrored:v1] [mirrored@"+push.digest+"]" {
		t.Errorf("image pulled through the mirror: %q", got)
	}
	manifestGets := 0
	for _, e := range reg.since(m) {
		if e.Method == "GET" && e.Route == "manifest" && e.Repo == "library/mirrored" {
			manifestGets++
		}
	}
	if manifestGets == 0 {
		t.Error("the mirror served no manifest")
	}
	p.checkClean()
}
