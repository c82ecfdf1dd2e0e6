package main

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/reference"
)

type imagesOptions struct {
	all, quiet, digests, noTrunc bool
	filters                      []string
	format                       string
}

func (c *cli) imagesCommand(use string, aliases ...string) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: aliases,
		Short:   "List images",
		Args:    rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return c.listImages(cmd, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')")
	return cmd
}

// imageRow is one line of `images`; its fields are the --format names
// Docker offers, all strings as in Docker's {{json .}}.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

var imageHeaders = map[string]string{
	"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

const (
	imagesTable        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	imagesDigestsTable = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

func (c *cli) listImages(cmd *cobra.Command, o imagesOptions) error {
	e, err := c.engine()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	filter, err := e.Images.ParseFilter(ctx, o.filters, "dangling", "before", "since", "label", "reference", "until")
	if err != nil {
		return err
	}
	imgs, err := e.Meta.List(ctx)
	if err != nil {
		return err
	}
	parents := map[digest.Digest]bool{}
	for _, img := range imgs {
		parents[img.Parent] = true
	}
	now := time.Now()
	var rows []imageRow
	for _, img := range imgs {
		if !filter.Match(img) || (!o.all && parents[img.ID] && imagestore.IsDangling(img)) {
			continue
		}
		rows = append(rows, imageRows(img, filter, o.noTrunc, now)...)
	}
	if o.quiet {
		return printIDs(c, rows)
	}
	def := imagesTable
	if o.digests {
		def = imagesDigestsTable
	}
	w, err := format.NewWriter(c.stdout, o.format, def, imageHeaders)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return w.Flush()
}

func printIDs(c *cli, rows []imageRow) error {
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.ID] {
			seen[r.ID] = true
			if _, err := c.stdout.Write([]byte(r.ID + "\n")); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageRows gives one row per tag; an image known only by digest gets a
// row per repository with TAG <none>; an unnamed image one <none> row.
func imageRows(img metadata.Image, f imagestore.Filter, noTrunc bool, now time.Time) []imageRow {
	base := imageRow{
		Containers: "N/A", SharedSize: "N/A", UniqueSize: "N/A",
		ID: img.ID.String(), Size: format.HumanSize(img.Size), VirtualSize: format.HumanSize(img.Size),
		CreatedSince: "N/A", CreatedAt: "N/A", Repository: "<none>", Tag: "<none>", Digest: "<none>",
	}
	if !noTrunc {
		base.ID = format.TruncateID(base.ID)
	}
	if !img.Created.IsZero() {
		base.CreatedSince = format.Ago(img.Created, now)
		base.CreatedAt = img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
	}
	digests := map[string]string{} // repository -> digest
	for _, rd := range img.RepoDigests {
		if r, err := reference.ParseNamed(rd); err == nil {
			digests[r.FamiliarName()] = r.Digest.String()
		}
	}
	var rows []imageRow
	tagged := map[string]bool{}
	for _, t := range img.Tags {
		r, err := reference.ParseNamed(t)
		if err != nil || !f.MatchTag(r) {
			continue
		}
		row := base
		row.Repository, row.Tag = r.FamiliarName(), r.Tag
		if d, ok := digests[row.Repository]; ok {
			row.Digest = d
		}
		tagged[row.Repository] = true
		rows = append(rows, row)
	}
	// Names are stored in full (docker.io/library/...); list them in the
	// order a user reads them.
	slices.SortStableFunc(rows, func(a, b imageRow) int {
		return cmp.Or(strings.Compare(a.Repository, b.Repository), strings.Compare(a.Tag, b.Tag))
	})
	for repo, d := range digests {
		if !tagged[repo] && len(img.Tags) == 0 {
			row := base
			row.Repository, row.Digest = repo, d
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 && len(img.Tags) == 0 && len(img.RepoDigests) == 0 {
		rows = append(rows, base)
	}
	return rows
}
