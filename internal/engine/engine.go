package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
)

// DefaultLayerLimit caps the uncompressed size of one layer (decompression
// bombs): 64 GiB unless STRATA_LAYER_SIZE_LIMIT or --layer-size-limit says
// otherwise.
const DefaultLayerLimit = 64 << 30

// Options select the root and limits.
type Options struct {
	Root       string // "" = DefaultRoot()
	LayerLimit int64  // 0 = DefaultLayerLimit
	Driver     string // storage driver: "" = recorded or detected
	Runtime    string // OCI runtime binary: "" = runc, else crun
}

// Engine holds the opened stores.
type Engine struct {
	Root    string
	Content *content.Store
	Meta    *metadata.DB
	Images  *imagestore.Store
	Limits  archive.Limits

	opts       Options
	containers *container.Manager
}

// DefaultRoot is $STRATA_ROOT, else /var/lib/strata for root, else
// $XDG_DATA_HOME/strata (~/.local/share/strata).
func DefaultRoot() string {
	if r := os.Getenv("STRATA_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/strata"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "strata")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "strata")
}

// Open opens (creating when needed) the store at opts.Root.
func Open(opts Options) (*Engine, error) {
	root := opts.Root
	if root == "" {
		root = DefaultRoot()
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, errdefs.Classed(errdefs.ErrPermission, fmt.Errorf("create root %s: %w", root, err))
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	meta, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		return nil, err
	}
	// Ingests left by killed processes (their locks are free) go now;
	// resumable downloads stay for a day.
	_, _ = cs.CleanIngests(24 * time.Hour)
	imgs, err := imagestore.New(cs, meta, filepath.Join(root, "locks"))
	if err != nil {
		_ = meta.Close() // nothing was written yet; the store error is the one to report
		return nil, err
	}
	limit := opts.LayerLimit
	if limit == 0 {
		limit = DefaultLayerLimit
	}
	return &Engine{Root: root, Content: cs, Meta: meta, Images: imgs, Limits: archive.Limits{MaxSize: limit}, opts: opts}, nil
}

// Close releases the database.
func (e *Engine) Close() error { return e.Meta.Close() }

// ParseSize reads a byte count with an optional unit: 512, 10k, 64MiB, 2GB.
// Units are binary (k = KiB), as for Docker's --memory.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid size %q", s)
	}
	return v * mult, nil
}
