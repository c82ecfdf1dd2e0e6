package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Store is one driver's snapshot table and directories.
type Store struct {
	db    *sql.DB
	table string
	dir   string
}

// Snapshot is a stored snapshot.
type Snapshot struct {
	ID   int64
	Info snapshot.Info
	// Parents are the ids of the committed ancestors, nearest first.
	Parents []int64
}

var driverName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// New opens the store of driver under root, creating the table and the
// directory when they are missing. db must allow concurrent writers to wait
// (strata opens it with busy_timeout and WAL).
func New(ctx context.Context, root, driver string, db *sql.DB) (*Store, error) {
	if !driverName.MatchString(driver) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "snapshot driver name %q is not a valid table suffix", driver)
	}
	if db == nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "snapshot driver %s: no metadata database", driver)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, table: "snapshots_" + driver, dir: filepath.Join(root, "snapshots")}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot directory: %w", err)
	}
	schema := fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	name      TEXT NOT NULL UNIQUE,
	parent_id INTEGER REFERENCES %[1]s(id),
	kind      TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
	created   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS %[1]s_parent ON %[1]s(parent_id);`, s.table)
	err = s.write(ctx, func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, schema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", s.table, err)
	}
	return s, nil
}

// Path is the directory of snapshot id.
func (s *Store) Path(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10))
}

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	q := fmt.Sprintf(`SELECT c.kind, c.created, COALESCE(p.name, '')
FROM %[1]s c LEFT JOIN %[1]s p ON p.id = c.parent_id WHERE c.name = ?`, s.table)
	info := snapshot.Info{Name: key}
	var kind string
	var created int64
	err := s.db.QueryRowContext(ctx, q, key).Scan(&kind, &created, &info.Parent)
	if errors.Is(err, sql.ErrNoRows) {
		return info, errdefs.Newf(errdefs.ErrNotFound, "snapshot %q not found", key)
	}
	if err != nil {
		return info, fmt.Errorf("stat snapshot %q: %w", key, err)
	}
	info.Kind, info.Created = snapshot.ParseKind(kind), time.Unix(0, created)
	return info, nil
}

// Get returns key with its chain of parents, read in one statement so that
// it is consistent.
func (s *Store) Get(ctx context.Context, key string) (Snapshot, error) {
	q := fmt.Sprintf(`WITH RECURSIVE chain(id, name, parent_id, kind, created, depth) AS (
	SELECT id, name, parent_id, kind, created, 0 FROM %[1]s WHERE name = ?
	UNION ALL
	SELECT t.id, t.name, t.parent_id, t.kind, t.created, chain.depth + 1
	FROM %[1]s t JOIN chain ON t.id = chain.parent_id
)
SELECT id, name, kind, created FROM chain ORDER BY depth`, s.table)
	rows, err := s.db.QueryContext(ctx, q, key)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read snapshot %q: %w", key, err)
	}
	defer rows.Close()
	var snap Snapshot
	for n := 0; rows.Next(); n++ {
		var id, created int64
		var name, kind string
		if err := rows.Scan(&id, &name, &kind, &created); err != nil {
			return Snapshot{}, fmt.Errorf("read snapshot %q: %w", key, err)
		}
		switch n {
		case 0:
			snap.ID = id
			snap.Info = snapshot.Info{Name: name, Kind: snapshot.ParseKind(kind), Created: time.Unix(0, created)}
			continue
		case 1:
			snap.Info.Parent = name
		}
		snap.Parents = append(snap.Parents, id)
	}
	if err := rows.Err(); err != nil {
		return Snapshot{}, fmt.Errorf("read snapshot %q: %w", key, err)
	}
	if snap.ID == 0 {
		return Snapshot{}, errdefs.Newf(errdefs.ErrNotFound, "snapshot %q not found", key)
	}
	return snap, nil
}

// Walk calls fn for every snapshot in creation order, which puts parents
// before their children. fn may call the store.
func (s *Store) Walk(ctx context.Context, fn func(snapshot.Info) error) error {
	q := fmt.Sprintf(`SELECT c.name, COALESCE(p.name, ''), c.kind, c.created
FROM %[1]s c LEFT JOIN %[1]s p ON p.id = c.parent_id ORDER BY c.id`, s.table)
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	var infos []snapshot.Info
	for rows.Next() {
		var info snapshot.Info
		var kind string
		var created int64
		if err := rows.Scan(&info.Name, &info.Parent, &kind, &created); err != nil {
			rows.Close()
			return fmt.Errorf("list snapshots: %w", err)
		}
		info.Kind, info.Created = snapshot.ParseKind(kind), time.Unix(0, created)
		infos = append(infos, info)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Commit renames the active snapshot key to name and makes it immutable.
// The snapshot's filesystem is synced first, so that a committed row never
// outlives its files in a power loss.
func (s *Store) Commit(ctx context.Context, name, key string) error {
	if name == "" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "commit snapshot %q: empty name", key)
	}
	snap, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := syncfs(s.Path(snap.ID)); err != nil {
		return fmt.Errorf("commit snapshot %q: %w", key, err)
	}
	return s.write(ctx, func(c *sql.Conn) error {
		var id int64
		var kind string
		err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT id, kind FROM %s WHERE name = ?`, s.table), key).Scan(&id, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return errdefs.Newf(errdefs.ErrNotFound, "snapshot %q not found", key)
		}
		if err != nil {
			return err
		}
		if kind != snapshot.KindActive.String() {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "commit snapshot %q: it is %s, not active", key, kind)
		}
		if ok, err := exists(ctx, c, s.table, name); err != nil || ok {
			if ok {
				err = errdefs.Newf(errdefs.ErrAlreadyExists, "commit snapshot %q: snapshot %q already exists", key, name)
			}
			return err
		}
		_, err = c.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET name = ?, kind = ? WHERE id = ?`, s.table),
			name, snapshot.KindCommitted.String(), id)
		return err
	})
}

// Remove deletes key's row, then its directory.
func (s *Store) Remove(ctx context.Context, key string) error {
	var id int64
	err := s.write(ctx, func(c *sql.Conn) error {
		err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT id FROM %s WHERE name = ?`, s.table), key).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errdefs.Newf(errdefs.ErrNotFound, "snapshot %q not found", key)
		}
		if err != nil {
			return err
		}
		var children int
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE parent_id = ?`, s.table)
		if err := c.QueryRowContext(ctx, q, id).Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return errdefs.Newf(errdefs.ErrConflict, "remove snapshot %q: it is the parent of %d other snapshots", key, children)
		}
		_, err = c.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = ?`, s.table), id)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.removeDir(s.Path(id)); err != nil {
		return fmt.Errorf("snapshot %q removed, but not its files (the next cleanup retries): %w", key, err)
	}
	return nil
}

func exists(ctx context.Context, c *sql.Conn, table, name string) (bool, error) {
	var n int
	err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE name = ?`, table), name).Scan(&n)
	return n > 0, err
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("sync filesystem of %s: %w", dir, err)
	}
	return nil
}
