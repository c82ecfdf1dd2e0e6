package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const containerSchema = `
CREATE TABLE IF NOT EXISTS containers (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	image_id      TEXT NOT NULL REFERENCES images(id),
	image_ref     TEXT NOT NULL,
	created       INTEGER NOT NULL,
	config        TEXT NOT NULL,
	state         TEXT NOT NULL,
	pid           INTEGER NOT NULL DEFAULT 0,
	monitor_pid   INTEGER NOT NULL DEFAULT 0,
	monitor_start INTEGER NOT NULL DEFAULT 0,
	exit_code     INTEGER NOT NULL DEFAULT 0,
	started_at    INTEGER NOT NULL DEFAULT 0,
	finished_at   INTEGER NOT NULL DEFAULT 0,
	restarts      INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
`

// Container states, as Docker names them.
const (
	StateCreated    = "created"
	StateRunning    = "running"
	StatePaused     = "paused"
	StateRestarting = "restarting"
	StateExited     = "exited"
	StateDead       = "dead"
	StateRemoving   = "removing"
)

// Container is one container record. Config is the container package's
// JSON (what the container was created with); the rest is its state.
type Container struct {
	ID           string
	Name         string
	ImageID      digest.Digest
	ImageRef     string
	Created      time.Time
	Config       json.RawMessage
	State        string
	Pid          int
	MonitorPid   int
	MonitorStart uint64 // the monitor's start time in clock ticks: guards against pid reuse
	ExitCode     int
	StartedAt    time.Time
	FinishedAt   time.Time
	Restarts     int
	Error        string
}

const containerColumns = `id, name, image_id, image_ref, created, config, state, pid, monitor_pid, monitor_start, exit_code, started_at, finished_at, restarts, error`

// CreateContainer records a new container. A taken name is ErrConflict with
// Docker's wording.
func (d *DB) CreateContainer(ctx context.Context, c Container) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRow(`SELECT id FROM containers WHERE name = ?`, c.Name).Scan(&other)
		if err == nil {
			return errdefs.Newf(errdefs.ErrConflict, `Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, c.Name, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(`INSERT INTO containers(`+containerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.ImageID.String(), c.ImageRef, unixNano(c.Created), string(c.Config), c.State, c.Pid,
			c.MonitorPid, int64(c.MonitorStart), c.ExitCode, unixNano(c.StartedAt), unixNano(c.FinishedAt), c.Restarts, c.Error)
		if err != nil {
			return fmt.Errorf("record container %s: %w", c.ID, err)
		}
		return nil
	})
}

// UpdateContainer applies fn to the current record inside one transaction
// and stores the result: read-modify-write without lost updates between
// processes. fn returning an error aborts the update.
func (d *DB) UpdateContainer(ctx context.Context, id string, fn func(*Container) error) (Container, error) {
	var out Container
	err := d.tx(ctx, func(tx *sql.Tx) error {
		c, err := scanContainer(tx.QueryRow(`SELECT `+containerColumns+` FROM containers WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", id)
		}
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE containers SET name = ?, config = ?, state = ?, pid = ?, monitor_pid = ?, monitor_start = ?,
			exit_code = ?, started_at = ?, finished_at = ?, restarts = ?, error = ? WHERE id = ?`,
			c.Name, string(c.Config), c.State, c.Pid, c.MonitorPid, int64(c.MonitorStart), c.ExitCode,
			unixNano(c.StartedAt), unixNano(c.FinishedAt), c.Restarts, c.Error, id)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return errdefs.Newf(errdefs.ErrConflict, `Conflict. The container name "/%s" is already in use`, c.Name)
			}
			return fmt.Errorf("update container %s: %w", id, err)
		}
		out = c
		return nil
	})
	return out, err
}

// DeleteContainer removes the record.
func (d *DB) DeleteContainer(ctx context.Context, id string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM containers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", id)
		}
		return nil
	})
}

// GetContainer returns one container by full ID.
func (d *DB) GetContainer(ctx context.Context, id string) (Container, error) {
	c, err := scanContainer(d.db.QueryRowContext(ctx, `SELECT `+containerColumns+` FROM containers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Container{}, errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", id)
	}
	return c, err
}

// FindContainer resolves a name, a full ID or a unique ID prefix, like
// Docker: an exact name wins, then an exact ID, then a prefix.
func (d *DB) FindContainer(ctx context.Context, ref string) (Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return Container{}, errdefs.Newf(errdefs.ErrInvalidArgument, "container name or ID must not be empty")
	}
	c, err := scanContainer(d.db.QueryRowContext(ctx, `SELECT `+containerColumns+` FROM containers WHERE name = ? OR id = ?`, ref, ref))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Container{}, err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+containerColumns+` FROM containers WHERE id >= ? AND id < ? LIMIT 2`, ref, ref+"\xff")
	if err != nil {
		return Container{}, err
	}
	list, err := scanContainers(rows)
	if err != nil {
		return Container{}, err
	}
	switch len(list) {
	case 0:
		return Container{}, errdefs.Newf(errdefs.ErrNotFound, "No such container: %s", ref)
	case 1:
		return list[0], nil
	}
	return Container{}, errdefs.Newf(errdefs.ErrInvalidArgument, "multiple IDs found with provided prefix: %s", ref)
}

// ListContainers returns every container, newest first.
func (d *DB) ListContainers(ctx context.Context) ([]Container, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+containerColumns+` FROM containers ORDER BY created DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return scanContainers(rows)
}

// ContainersUsing returns the containers created from image id.
func (d *DB) ContainersUsing(ctx context.Context, id digest.Digest) ([]Container, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+containerColumns+` FROM containers WHERE image_id = ? ORDER BY created`, id.String())
	if err != nil {
		return nil, err
	}
	return scanContainers(rows)
}

func scanContainers(rows *sql.Rows) ([]Container, error) {
	var out []Container
	for rows.Next() {
		c, err := scanContainer(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	return out, closeRows(rows)
}

func scanContainer(s scanner) (Container, error) {
	var c Container
	var img, cfg string
	var created, started, finished, monStart int64
	err := s.Scan(&c.ID, &c.Name, &img, &c.ImageRef, &created, &cfg, &c.State, &c.Pid, &c.MonitorPid, &monStart,
		&c.ExitCode, &started, &finished, &c.Restarts, &c.Error)
	if err != nil {
		return Container{}, err
	}
	c.ImageID, c.Config, c.MonitorStart = digest.Digest(img), json.RawMessage(cfg), uint64(monStart)
	c.Created, c.StartedAt, c.FinishedAt = fromNano(created), fromNano(started), fromNano(finished)
	return c, nil
}
