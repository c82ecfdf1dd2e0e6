package container

import (
	"encoding/json"
	"fmt"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/network"
)

// RestartPolicy is Docker's --restart.
type RestartPolicy struct {
	Name              string // no, always, unless-stopped, on-failure
	MaximumRetryCount int
}

// Config is what a container was created with. It is stored as JSON in the
// container's metadata row and never changes after create, except through
// update (resources, restart policy) and rename.
type Config struct {
	Image       string                // as the user typed it
	Args        []string              // resolved command: entrypoint + cmd
	Entrypoint  []string              // as resolved, for inspect's Path/Args
	Cmd         []string              // as resolved
	Env         []string              // merged image env and -e
	WorkingDir  string                // absolute
	User        string                // as given (resolved at start)
	Hostname    string                //
	Domainname  string                //
	Tty         bool                  // -t
	OpenStdin   bool                  // -i
	Labels      map[string]string     // image labels plus --label
	StopSignal  string                // image STOPSIGNAL or --stop-signal
	StopTime    int                   // --stop-timeout seconds (default 10)
	Exposed     map[string]struct{}   // image EXPOSE plus --expose
	Volumes     map[string]struct{}   // image VOLUMEs (anonymous volumes)
	Binds       []Bind                // -v host:ctr[:ro] and named volumes
	Ports       []network.PortMapping // -p / -P, random host ports resolved at start
	Network     string                // bridge, host, none
	ExtraHosts  []string              // --add-host
	ReadOnly    bool                  // --read-only
	AutoRemove  bool                  // --rm
	Restart     RestartPolicy         //
	Memory      int64                 // bytes
	CPUs        float64               //
	PidsLimit   int64                 //
	Runtime     string                // runc or crun, as resolved at create
	Driver      string                // storage driver of the snapshot
	Snapshot    string                // snapshot key of the container layer
	ImageChain  string                // chain ID of the image's top layer ("" for no layers)
	InitLayer   string                // the init snapshot between image and container
	Healthcheck *image.HealthConfig   `json:",omitempty"`
}

// Bind is one -v mount: a host path or a named/anonymous volume.
type Bind struct {
	Source      string // host path, or volume name
	Destination string
	ReadOnly    bool
	Volume      bool // Source names a volume under <root>/volumes
}

func decodeConfig(raw []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("container config: %w", err)
	}
	return c, nil
}
