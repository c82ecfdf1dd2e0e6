package main

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
)

// version is set at link time: -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func (c *cli) versionCommand() *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the strata version information",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]any{"Version": version, "GoVersion": runtime.Version(), "Os": runtime.GOOS, "Arch": runtime.GOARCH}
			if tmpl != "" {
				// Scripts written for Docker ask for {{.Client.Version}} or
				// {{.Server.Version}}; strata is both.
				both := maps.Clone(v)
				v["Client"], v["Server"] = both, both
				return execTemplate(c, tmpl, v)
			}
			fmt.Fprintf(c.stdout, "strata:\n Version:     %s\n Go version:  %s\n OS/Arch:     %s/%s\n",
				v["Version"], v["GoVersion"], v["Os"], v["Arch"])
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

func execTemplate(c *cli, tmpl string, v any) error {
	t, err := format.Template(tmpl)
	if err != nil {
		return err
	}
	if err := t.Execute(c.stdout, v); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	fmt.Fprintln(c.stdout)
	return nil
}

// dfRow is one line of `system df`. Fields are in name order, as Docker's
// {{json .}} prints them.
type dfRow struct {
	Active, Reclaimable, Size, TotalCount, Type string
}

var dfHeaders = map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}

func (c *cli) dfCommand() *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show strata disk usage",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			rows, err := c.diskUsage(cmd, e)
			if err != nil {
				return err
			}
			w, err := format.NewWriter(c.stdout, tmpl, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", dfHeaders)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := w.Write(r); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tmpl, "format", "", "Format output using a custom template")
	return cmd
}

// diskUsage gives the rows of `system df`. Image sizes are what blobs take
// on disk, each blob once however many images share it; an image is active
// while a container uses it, and what only inactive images use is
// reclaimable.
func (c *cli) diskUsage(cmd *cobra.Command, e *engine.Engine) ([]dfRow, error) {
	ctx := cmd.Context()
	imgs, err := e.Meta.List(ctx)
	if err != nil {
		return nil, err
	}
	mgr, err := e.Containers()
	if err != nil {
		return nil, err
	}
	u, err := mgr.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	blobs, err := e.Meta.AllBlobs(ctx)
	if err != nil {
		return nil, err
	}
	sizes := map[digest.Digest]int64{}
	active := map[digest.Digest]bool{}
	for id, list := range blobs {
		for _, b := range list {
			sizes[b.Digest] = b.Size
			if u.ActiveImages[id] {
				active[b.Digest] = true
			}
		}
	}
	var total, inUse int64
	for d, n := range sizes {
		total += n
		if active[d] {
			inUse += n
		}
	}
	b, err := e.Builder()
	if err != nil {
		return nil, err
	}
	entries, cacheSize, err := b.Usage(ctx)
	if err != nil {
		return nil, err
	}
	return []dfRow{
		{Type: "Images", TotalCount: fmt.Sprint(len(imgs)), Active: fmt.Sprint(len(u.ActiveImages)), Size: format.HumanSizePrecise(total), Reclaimable: reclaimable(total-inUse, total)},
		{Type: "Containers", TotalCount: fmt.Sprint(u.Containers), Active: fmt.Sprint(u.RunningContainers), Size: format.HumanSizePrecise(u.ContainerBytes), Reclaimable: reclaimable(u.StoppedBytes, u.ContainerBytes)},
		{Type: "Local Volumes", TotalCount: fmt.Sprint(u.Volumes), Active: fmt.Sprint(u.ActiveVolumes), Size: format.HumanSizePrecise(u.VolumeBytes), Reclaimable: reclaimable(u.UnusedBytes, u.VolumeBytes)},
		// The cache's size is what only the cache keeps: layers no image uses.
		{Type: "Build Cache", TotalCount: fmt.Sprint(entries), Active: "0", Size: format.HumanSizePrecise(cacheSize), Reclaimable: format.HumanSizePrecise(cacheSize)},
	}, nil
}

func reclaimable(part, total int64) string {
	if total == 0 {
		return "0B"
	}
	return fmt.Sprintf("%s (%d%%)", format.HumanSizePrecise(part), part*100/total)
}

// infoView is what `info` reports; --format sees these fields.
type infoView struct {
	Root          string
	StorageDriver string
	Images        int
	Tags          int
	Dangling      int
	Blobs         int
	BlobBytes     int64
	Containers    int
	Running       int
	Paused        int
	Stopped       int
	Runtime       string
	Version       string
	OSType        string
	Architecture  string
	NCPU          int
	KernelVersion string
}

func (c *cli) infoCommand() *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			imgs, err := e.Meta.List(cmd.Context())
			if err != nil {
				return err
			}
			v := infoView{Root: e.Root, Images: len(imgs), Version: version,
				OSType: runtime.GOOS, Architecture: runtime.GOARCH, NCPU: runtime.NumCPU(), KernelVersion: kernelVersion()}
			if err := containerInfo(cmd, e, &v); err != nil {
				return err
			}
			for _, img := range imgs {
				v.Tags += len(img.Tags)
				if imagestore.IsDangling(img) {
					v.Dangling++
				}
			}
			if v.Blobs, v.BlobBytes, err = e.Content.Usage(); err != nil {
				return err
			}
			if tmpl != "" {
				return execTemplate(c, tmpl, v)
			}
			fmt.Fprintf(c.stdout, "Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n Tags: %d\n Dangling: %d\nBlobs: %d (%s)\n"+
				"Server Version: %s\nStorage Driver: %s\nDefault Runtime: %s\nStrata Root Dir: %s\nKernel Version: %s\nOSType: %s\nArchitecture: %s\nCPUs: %d\n",
				v.Containers, v.Running, v.Paused, v.Stopped, v.Images, v.Tags, v.Dangling, v.Blobs, format.HumanSize(v.BlobBytes),
				v.Version, v.StorageDriver, v.Runtime, v.Root, v.KernelVersion, v.OSType, v.Architecture, v.NCPU)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

// containerInfo fills in the storage driver, runtime and container counts.
func containerInfo(cmd *cobra.Command, e *engine.Engine, v *infoView) error {
	mgr, err := e.Containers()
	if err != nil {
		return err
	}
	v.StorageDriver = mgr.Driver
	v.Runtime = "none (install runc or crun)"
	if mgr.Runtime != nil {
		v.Runtime = mgr.Runtime.Binary
	}
	list, err := mgr.List(cmd.Context())
	if err != nil {
		return err
	}
	for _, ctr := range list {
		v.Containers++
		switch ctr.State {
		case metadata.StateRunning, metadata.StateRestarting:
			v.Running++
		case metadata.StatePaused:
			v.Paused++
		default:
			v.Stopped++
		}
	}
	return nil
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func (c *cli) checkCommand() *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Verify every blob and image reference in the store",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			rep, err := e.Images.Check(cmd.Context(), repair)
			for _, p := range rep.Problems {
				fmt.Fprintln(c.stdout, p)
			}
			if err != nil {
				return err
			}
			open := 0
			for _, p := range rep.Problems {
				if !p.Repaired {
					open++
				}
			}
			fmt.Fprintf(c.stdout, "checked %d blobs and %d images: %d problems, %d repaired\n",
				rep.Blobs, rep.Images, len(rep.Problems), len(rep.Problems)-open)
			if open > 0 {
				if !repair {
					fmt.Fprintln(c.stdout, "run 'strata system check --repair' to fix them")
				}
				return statusError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "Remove corrupt and unreferenced blobs and the images that need them")
	return cmd
}
