package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Populate fills dir, a new snapshot's directory, given the ids of the
// committed parents (nearest first).
type Populate func(dir string, parents []int64) error

// Create makes the snapshot key of kind on the committed parent. populate
// runs outside any transaction, in a tmp- directory that is renamed to the
// snapshot's id in the transaction that inserts its row.
func (s *Store) Create(ctx context.Context, kind snapshot.Kind, key, parent string, populate Populate) (Snapshot, error) {
	if key == "" {
		return Snapshot{}, errdefs.Newf(errdefs.ErrInvalidArgument, "snapshot key is empty")
	}
	if _, err := s.Stat(ctx, key); err == nil {
		return Snapshot{}, errdefs.Newf(errdefs.ErrAlreadyExists, "snapshot %q already exists", key)
	} else if !errdefs.IsNotFound(err) {
		return Snapshot{}, err
	}
	snap := Snapshot{Info: snapshot.Info{Name: key, Parent: parent, Kind: kind}}
	if parent != "" {
		p, err := s.Get(ctx, parent)
		if err != nil {
			return Snapshot{}, fmt.Errorf("parent of snapshot %q: %w", key, err)
		}
		if p.Info.Kind != snapshot.KindCommitted {
			return Snapshot{}, errdefs.Newf(errdefs.ErrInvalidArgument, "parent %q of snapshot %q is %s, not committed", parent, key, p.Info.Kind)
		}
		snap.Parents = append([]int64{p.ID}, p.Parents...)
	}

	tmp, err := s.newTemp()
	if err != nil {
		return Snapshot{}, err
	}
	defer tmp.release()
	if err := populate(tmp.path, snap.Parents); err != nil {
		return Snapshot{}, fmt.Errorf("create snapshot %q: %w", key, err)
	}

	var garbage []*lockedDir
	err = s.write(ctx, func(c *sql.Conn) error {
		if ok, err := exists(ctx, c, s.table, key); err != nil || ok {
			if ok {
				err = errdefs.Newf(errdefs.ErrAlreadyExists, "snapshot %q already exists", key)
			}
			return err
		}
		var parentID sql.NullInt64
		if parent != "" {
			if err := s.checkParent(ctx, c, parent, snap.Parents[0]); err != nil {
				return err
			}
			parentID = sql.NullInt64{Int64: snap.Parents[0], Valid: true}
		}
		snap.Info.Created = time.Now()
		res, err := c.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (name, parent_id, kind, created) VALUES (?, ?, ?, ?)`, s.table),
			key, parentID, kind.String(), snap.Info.Created.UnixNano())
		if err != nil {
			return err
		}
		if snap.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		garbage, err = s.place(tmp, snap.ID)
		return err
	})
	for _, g := range garbage {
		g.remove()
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("create snapshot %q: %w", key, err)
	}
	return snap, nil
}

// checkParent makes sure parent is still the committed snapshot the new
// snapshot was built on.
func (s *Store) checkParent(ctx context.Context, c *sql.Conn, parent string, want int64) error {
	var id int64
	var kind string
	err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT id, kind FROM %s WHERE name = ?`, s.table), parent).Scan(&id, &kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errdefs.Newf(errdefs.ErrNotFound, "parent snapshot %q was removed", parent)
	case err != nil:
		return err
	case id != want || kind != snapshot.KindCommitted.String():
		return errdefs.Newf(errdefs.ErrConflict, "parent snapshot %q was replaced meanwhile", parent)
	}
	return nil
}

// write runs fn in one BEGIN IMMEDIATE transaction on its own connection,
// whatever transaction mode the caller opened the database with. COMMIT and
// ROLLBACK ignore ctx: once directories have been moved, the transaction
// must end one way or the other.
func (s *Store) write(ctx context.Context, fn func(*sql.Conn) error) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("snapshot metadata: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("snapshot metadata: begin: %w", err)
	}
	bg := context.WithoutCancel(ctx)
	if err := fn(c); err != nil {
		rollback(bg, c)
		return err
	}
	if _, err := c.ExecContext(bg, "COMMIT"); err != nil {
		rollback(bg, c)
		return fmt.Errorf("snapshot metadata: commit: %w", err)
	}
	return nil
}

// rollback ends a failed transaction; if even that fails, the connection is
// thrown away so that the pool never hands out one stuck in a transaction.
func rollback(ctx context.Context, c *sql.Conn) {
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}
