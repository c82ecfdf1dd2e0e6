package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// historyRow is one line of `history`; fields are in name order, as
// Docker's {{json .}} prints them.
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

const historyTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

func (c *cli) historyCommand() *cobra.Command {
	var human, noTrunc, quiet bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine()
			if err != nil {
				return err
			}
			img, err := e.Images.Resolve(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cfg, err := loadConfig(e, img)
			if err != nil {
				return err
			}
			rows := historyRows(img, cfg, localIDs(cmd.Context(), e, img), human, noTrunc, time.Now())
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(c.stdout, r.ID)
				}
				return nil
			}
			w, err := format.NewWriter(c.stdout, fmtFlag, historyTable, historyHeaders)
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
	f := cmd.Flags()
	f.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	return cmd
}

// localIDs maps history entries to the local parent images (commit and
// build set them) that end there: each at the length of its own history.
// The image itself ends the last entry; the rest are <missing>, as in
// Docker.
func localIDs(ctx context.Context, e *engine.Engine, img metadata.Image) map[int]string {
	ids := map[int]string{}
	for cur := img; cur.Parent != ""; {
		parent, err := e.Meta.Get(ctx, cur.Parent)
		if err != nil {
			break
		}
		pcfg, err := loadConfig(e, parent)
		if err != nil || len(pcfg.History) == 0 {
			break
		}
		ids[len(pcfg.History)-1] = parent.ID.String()
		cur = parent
	}
	return ids
}

// historyRows lists the config's history newest first, each row with the
// local image that entry ends (ids), else <missing>.
func historyRows(img metadata.Image, cfg *image.Config, ids map[int]string, human, noTrunc bool, now time.Time) []historyRow {
	layers := img.Layers()
	sizes := make([]int64, len(cfg.History))
	li := 0
	for i, h := range cfg.History {
		if !h.EmptyLayer && li < len(layers) {
			sizes[i] = layers[li].DiffSize
			li++
		}
	}
	hist := cfg.History
	if len(hist) == 0 { // configs without history: one row per layer
		for _, l := range layers {
			hist = append(hist, image.History{})
			sizes = append(sizes, l.DiffSize)
		}
	}
	rows := make([]historyRow, 0, len(hist))
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, CreatedSince: "N/A", CreatedAt: "N/A"}
		if id, ok := ids[i]; ok || i == len(hist)-1 {
			if !ok {
				id = img.ID.String()
			}
			r.ID = id
			if !noTrunc {
				r.ID = format.TruncateID(r.ID)
			}
		}
		if h.Created != nil && !h.Created.IsZero() {
			r.CreatedAt = h.Created.Local().Format(time.RFC3339)
			r.CreatedSince = r.CreatedAt
			if human {
				r.CreatedSince = format.Ago(*h.Created, now)
			}
		}
		// A tab would break the table's columns, truncated or not.
		r.CreatedBy = strings.ReplaceAll(r.CreatedBy, "\t", " ")
		if !noTrunc {
			r.CreatedBy = format.Ellipsis(r.CreatedBy, 45)
		}
		r.Size = strconv.FormatInt(sizes[i], 10)
		if human {
			r.Size = format.HumanSize(sizes[i])
		}
		rows = append(rows, r)
	}
	return rows
}
