// Package pgstate records runs in PostgreSQL: the state.Backend a team
// shares (backend "postgres"). Every project name has its own records in
// one database; trainrun creates and migrates the tables itself.
//
// One connection carries everything a process does. Writers take turns
// through a session advisory lock held for the moment of a transaction;
// Lock holds it for as long as the caller wants. Claims are session
// advisory locks too, one per instance: PostgreSQL releases them when the
// session ends, however the process ends.
//
// A session that ends under a live process (the server restarted, the
// network broke) is dialled again, for up to a minute, and whatever was
// under way is done again: a transaction is all or nothing, and writing a
// run's record twice leaves it as written once. Its claims are taken again
// at once; the server gives their holders a grace period after it starts
// (claimGrace), in which a claim held before the restart is taken by no
// one else. A claim that could not be taken again is Lost.
package pgstate

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trainrun/trainrun/providers"
	"github.com/trainrun/trainrun/state"
)

// SchemaVersion is the version of the tables this trainrun reads and
// writes. A database whose tables are newer is refused.
const SchemaVersion = 2

// reconnectFor is how long an operation whose session ended tries to get
// one again before it fails.
const reconnectFor = time.Minute

// claimGrace is how long after the server started a claim that a session
// held before is kept for its holder to take again.
const claimGrace = 10 * time.Second

var (
	_ state.Backend   = (*Backend)(nil)
	_ state.LogKeeper = (*Backend)(nil)
)

// Backend is the records of one project in a PostgreSQL database.
type Backend struct {
	project     string
	cfg         *pgx.ConnConfig
	lockTimeout time.Duration

	mu         sync.Mutex // guards conn, the fields below and the current record
	conn       *pgx.Conn  // nil when the session ended: ready dials again
	closed     bool
	locked     bool // Lock held
	lockHolder state.Holder
	claims     map[string]*claim

	serial  uint64
	lineage string
	heads   map[string]*state.Run // latest run by address
	live    map[string]*state.Run // by id
}

// Open opens the records of project in the database connStr names (a URL
// or key=value string; the PG* environment variables fill in what it
// leaves out). It creates or migrates the tables.
func Open(ctx context.Context, connStr, project string) (*Backend, error) {
	if project == "" {
		return nil, errors.New("postgres backend: no project name")
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		// pgx's parse errors may quote the string, password and all.
		return nil, errors.New("postgres backend: conn_str is not a PostgreSQL connection string (a postgres:// URL or key=value pairs)")
	}
	b := &Backend{project: project, cfg: cfg, lockTimeout: 5 * time.Minute, claims: map[string]*claim{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	if err := b.migrate(ctx); err != nil {
		b.conn.Close(ctx)
		return nil, err
	}
	if err := b.load(ctx); err != nil {
		b.conn.Close(ctx)
		return nil, err
	}
	return b, nil
}

// Where names the server, never the password.
func (b *Backend) Where() string {
	return fmt.Sprintf("%s:%d", b.cfg.Host, b.cfg.Port)
}

// SetLockTimeout sets how long Put waits for another writer.
func (b *Backend) SetLockTimeout(d time.Duration) {
	b.mu.Lock()
	b.lockTimeout = d
	b.mu.Unlock()
}

// connect dials the server. It requires b.mu.
func (b *Backend) connect(ctx context.Context) error {
	if b.conn != nil && !b.conn.IsClosed() {
		return nil
	}
	b.conn = nil
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, b.cfg)
	if err != nil {
		return fmt.Errorf("postgres backend at %s: cannot connect (%s)", b.Where(), redact(err, b.cfg.Password))
	}
	b.conn = conn
	return nil
}

// redact says what went wrong without the password.
func redact(err error, password string) string {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "****")
	}
	return msg
}

// broken notes that the session ended if err says so: ready dials again
// and takes the claims and the lock again. It requires b.mu.
func (b *Backend) broken(err error) error {
	if err != nil && b.conn != nil && b.conn.IsClosed() {
		b.conn = nil
	}
	return err
}

// ended reports whether err is a session's end (broken has seen it), which
// do answers by dialling again and trying once more.
func (b *Backend) ended(err error) bool {
	return err != nil && !b.closed && (b.conn == nil || b.conn.IsClosed())
}

// do runs fn, which uses b.conn, dialling again and running it again while
// it fails because the session ended, for at most reconnectFor. It requires
// b.mu, which it lets go while it waits for the server.
func (b *Backend) do(fn func() error) error {
	deadline := time.Now().Add(reconnectFor)
	for {
		if err := b.ready(); err != nil {
			return err
		}
		err := b.broken(fn())
		if !b.ended(err) || time.Now().After(deadline) {
			return err
		}
	}
}

// retake takes the claims and the lock again on a new session; a claim
// that another session holds now is lost. It requires b.mu.
func (b *Backend) retake(ctx context.Context) error {
	for address, c := range b.claims {
		ok, err := b.tryClaim(claimKey(address), c.holder, 0)
		if err != nil {
			return err
		}
		if !ok {
			delete(b.claims, address)
			c.lose()
		}
	}
	if b.locked {
		var ok bool
		if err := b.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key(b.project, "lock")).Scan(&ok); err != nil {
			return b.broken(err)
		}
		if !ok {
			b.locked = false
		} else if err := b.note("lock", b.lockHolder); err != nil {
			return err
		}
	}
	return nil
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS trainrun_schema (version integer NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS trainrun_projects (
		name text PRIMARY KEY,
		serial bigint NOT NULL DEFAULT 0,
		lineage text NOT NULL DEFAULT '')`,
	`CREATE TABLE IF NOT EXISTS trainrun_runs (
		project text NOT NULL,
		id text NOT NULL,
		address text NOT NULL,
		fingerprint text NOT NULL,
		repro_of text NOT NULL,
		created_s bigint NOT NULL,
		created_ns integer NOT NULL,
		live boolean NOT NULL,
		seq bigint NOT NULL,
		experiment text NOT NULL,
		status text NOT NULL,
		data text NOT NULL,
		PRIMARY KEY (project, id))`,
	`CREATE INDEX IF NOT EXISTS trainrun_runs_seq ON trainrun_runs (project, seq)`,
	`CREATE INDEX IF NOT EXISTS trainrun_runs_head ON trainrun_runs (project, address, created_s DESC, created_ns DESC, id DESC) WHERE repro_of = ''`,
	`CREATE INDEX IF NOT EXISTS trainrun_runs_created ON trainrun_runs (project, created_s DESC, created_ns DESC, id DESC)`,
	`CREATE INDEX IF NOT EXISTS trainrun_runs_fp ON trainrun_runs (project, fingerprint)`,
	`CREATE INDEX IF NOT EXISTS trainrun_runs_live ON trainrun_runs (project) WHERE live`,
	// The latest run of each instance, kept by writers: opening reads
	// these and not the whole history.
	`CREATE TABLE IF NOT EXISTS trainrun_heads (
		project text NOT NULL,
		address text NOT NULL,
		id text NOT NULL,
		created_s bigint NOT NULL,
		created_ns integer NOT NULL,
		PRIMARY KEY (project, address))`,
	`CREATE TABLE IF NOT EXISTS trainrun_records (
		project text NOT NULL,
		kind text NOT NULL,
		key text NOT NULL,
		ord bigserial,
		data text NOT NULL,
		PRIMARY KEY (project, kind, key))`,
	`CREATE TABLE IF NOT EXISTS trainrun_holders (
		project text NOT NULL,
		key text NOT NULL,
		session integer NOT NULL,
		holder text NOT NULL,
		PRIMARY KEY (project, key))`,
	// Version 2: when the holder took it, for claimGrace.
	`ALTER TABLE trainrun_holders ADD COLUMN IF NOT EXISTS noted_at timestamptz NOT NULL DEFAULT now()`,
	// Version 2: the collected logs of finished runs, for every checkout.
	`CREATE TABLE IF NOT EXISTS trainrun_logs (
		project text NOT NULL,
		id text NOT NULL,
		log bytea NOT NULL,
		PRIMARY KEY (project, id))`,
}

// migrate creates the tables, or checks that they are of a version this
// trainrun knows. It requires b.mu.
func (b *Backend) migrate(ctx context.Context) error {
	fail := func(err error) error {
		return b.broken(fmt.Errorf("postgres backend at %s: create tables: %w", b.Where(), err))
	}
	// Tables of this version already: one round trip, no DDL (each
	// command opens the backend).
	var current *int
	if err := b.conn.QueryRow(ctx, `SELECT max(version) FROM trainrun_schema`).Scan(&current); err == nil && current != nil && *current == SchemaVersion {
		if _, err := b.conn.Exec(ctx, `INSERT INTO trainrun_projects (name) VALUES ($1) ON CONFLICT DO NOTHING`, b.project); err != nil {
			return fail(err)
		}
		return nil
	} else if b.conn.IsClosed() {
		return fail(err)
	}
	// One process creates the tables at a time.
	if _, err := b.conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key("", "schema")); err != nil {
		return fail(err)
	}
	defer b.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key("", "schema"))
	for _, q := range schema {
		if _, err := b.conn.Exec(ctx, q); err != nil {
			return fail(err)
		}
	}
	var version int
	err := b.conn.QueryRow(ctx, `SELECT max(version) FROM trainrun_schema`).Scan(&version)
	if err != nil {
		var v *int
		if err2 := b.conn.QueryRow(ctx, `SELECT max(version) FROM trainrun_schema`).Scan(&v); err2 != nil {
			return fail(err2)
		}
		if v != nil {
			version = *v
		}
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("postgres backend at %s: the tables are of schema version %d, newer than this trainrun knows (%d): upgrade trainrun to a release that knows schema version %d", b.Where(), version, SchemaVersion, version)
	case version < SchemaVersion:
		if _, err := b.conn.Exec(ctx, `INSERT INTO trainrun_schema (version) VALUES ($1)`, SchemaVersion); err != nil {
			return fail(err)
		}
	}
	if _, err := b.conn.Exec(ctx, `INSERT INTO trainrun_projects (name) VALUES ($1) ON CONFLICT DO NOTHING`, b.project); err != nil {
		return fail(err)
	}
	return nil
}

// key is the advisory lock key of name in project.
func key(project, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(project))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// load reads the current record afresh. It requires b.mu.
func (b *Backend) load(ctx context.Context) error {
	tx, err := b.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return b.broken(fmt.Errorf("postgres backend: read: %w", err))
	}
	defer tx.Rollback(ctx)
	var serial int64
	var lineage string
	if err := tx.QueryRow(ctx, `SELECT serial, lineage FROM trainrun_projects WHERE name = $1`, b.project).Scan(&serial, &lineage); err != nil {
		return b.broken(fmt.Errorf("postgres backend: read: %w", err))
	}
	heads, err := queryRuns(ctx, tx, `SELECT r.data FROM trainrun_heads h JOIN trainrun_runs r ON r.project = h.project AND r.id = h.id
		WHERE h.project = $1`, b.project)
	if err != nil {
		return b.broken(err)
	}
	live, err := queryRuns(ctx, tx, `SELECT data FROM trainrun_runs WHERE project = $1 AND live`, b.project)
	if err != nil {
		return b.broken(err)
	}
	b.serial, b.lineage = uint64(serial), lineage
	b.heads = make(map[string]*state.Run, len(heads))
	for _, r := range heads {
		b.heads[r.Address] = r
	}
	b.live = make(map[string]*state.Run, len(live))
	for _, r := range live {
		b.live[r.ID] = r
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryRuns returns the runs whose JSON the query selects.
func queryRuns(ctx context.Context, q querier, sql string, args ...any) ([]*state.Run, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres backend: read runs: %w", err)
	}
	defer rows.Close()
	var out []*state.Run
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return nil, fmt.Errorf("postgres backend: read runs: %w", err)
		}
		r, err := state.DecodeRun(js)
		if err != nil {
			return nil, fmt.Errorf("postgres backend: a recorded run: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres backend: read runs: %w", err)
	}
	return out, nil
}

// catchUp applies what other processes wrote since serial. It requires
// b.mu.
func (b *Backend) catchUp(ctx context.Context, q querier, serial uint64, lineage string) error {
	if serial == b.serial {
		return nil
	}
	runs, err := queryRuns(ctx, q, `SELECT data FROM trainrun_runs WHERE project = $1 AND seq > $2 ORDER BY seq`, b.project, int64(b.serial))
	if err != nil {
		return err
	}
	b.apply(runs)
	b.serial, b.lineage = serial, lineage
	return nil
}

// apply makes runs, newest versions, current. It requires b.mu.
func (b *Backend) apply(runs []*state.Run) {
	for _, r := range runs {
		if r.Live() {
			b.live[r.ID] = r
		} else {
			delete(b.live, r.ID)
		}
		if r.ReproOf != "" {
			continue
		}
		if h := b.heads[r.Address]; h == nil || h.ID == r.ID || state.CompareRuns(r, h) > 0 {
			b.heads[r.Address] = r
		}
	}
}

// Serial counts the records ever put.
func (b *Backend) Serial() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.serial
}

// Lineage identifies the record.
func (b *Backend) Lineage() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lineage
}

// Latest returns the newest run of the instance at address, or nil.
func (b *Backend) Latest(address string) *state.Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.heads[address]; r != nil {
		return r.Clone()
	}
	return nil
}

// Heads returns the latest run of every instance, by address.
func (b *Backend) Heads() []*state.Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*state.Run, 0, len(b.heads))
	for _, r := range b.heads {
		out = append(out, r.Clone())
	}
	slices.SortFunc(out, func(a, b *state.Run) int { return cmp.Compare(a.Address, b.Address) })
	return out
}

// Live returns every run that may still be executing, oldest first.
func (b *Backend) Live() []*state.Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*state.Run, 0, len(b.live))
	for _, r := range b.live {
		out = append(out, r.Clone())
	}
	slices.SortFunc(out, state.CompareRuns)
	return out
}

// Reload reads what other processes wrote.
func (b *Backend) Reload() error {
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.do(func() error { return b.reload(ctx) })
}

func (b *Backend) reload(ctx context.Context) error {
	tx, err := b.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres backend: reload: %w", err)
	}
	defer tx.Rollback(ctx)
	var serial int64
	var lineage string
	if err := tx.QueryRow(ctx, `SELECT serial, lineage FROM trainrun_projects WHERE name = $1`, b.project).Scan(&serial, &lineage); err != nil {
		return fmt.Errorf("postgres backend: reload: %w", err)
	}
	return b.catchUp(ctx, tx, uint64(serial), lineage)
}

// ready checks that b is open and connected. When the session ended, it
// dials again (for at most reconnectFor while the server is not there,
// whatever the caller's context, which bounds waiting for other processes
// only) and takes back the claims and the lock. It requires b.mu, which it
// lets go while it waits.
func (b *Backend) ready() error {
	ctx := context.Background()
	deadline := time.Now().Add(reconnectFor)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if b.closed {
			return state.ErrClosed
		}
		if b.conn != nil && !b.conn.IsClosed() {
			return nil
		}
		err := b.connect(ctx)
		if err == nil {
			if err = b.retake(ctx); err == nil {
				return nil
			}
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		b.mu.Unlock()
		time.Sleep(wait)
		b.mu.Lock()
	}
}

// one runs a query returning runs under b.mu.
func (b *Backend) query(sql string, args ...any) ([]*state.Run, error) {
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	var runs []*state.Run
	err := b.do(func() (err error) {
		runs, err = queryRuns(ctx, b.conn, sql, args...)
		return err
	})
	return runs, err
}

// Get returns the run with this exact id.
func (b *Backend) Get(id string) (*state.Run, error) {
	runs, err := b.query(`SELECT data FROM trainrun_runs WHERE project = $1 AND id = $2`, b.project, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: %s", state.ErrNotFound, id)
	}
	return runs[0], nil
}

// Find resolves a run id, a unique prefix of one, or an instance address.
func (b *Backend) Find(ref string) (*state.Run, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty run reference", state.ErrNotFound)
	}
	if r, err := b.Get(ref); err == nil || !errors.Is(err, state.ErrNotFound) {
		return r, err
	}
	if r := b.Latest(ref); r != nil {
		return r, nil
	}
	// A prefix: LIKE with its wildcards escaped.
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(ref)
	runs, err := b.query(`SELECT data FROM trainrun_runs WHERE project = $1 AND id LIKE $2 ORDER BY id LIMIT 11`, b.project, esc+"%")
	if err != nil {
		return nil, err
	}
	switch len(runs) {
	case 1:
		return runs[0], nil
	case 0:
		var instances []string
		for _, r := range b.Heads() {
			if strings.HasPrefix(r.Address, ref+"[") {
				instances = append(instances, r.Address)
			}
		}
		if len(instances) > 0 {
			return nil, fmt.Errorf("%w: %s has %d instances; name one: %s", state.ErrAmbiguous, ref, len(instances), state.ListSome(instances))
		}
		return nil, fmt.Errorf("%w: %q is not a run id, a run id prefix, or an instance address with runs", state.ErrNotFound, ref)
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = fmt.Sprintf("%s (%s)", r.ID, r.Address)
	}
	n := fmt.Sprint(len(runs))
	if len(runs) > 10 {
		n = "more than 10"
	}
	return nil, fmt.Errorf("%w: %q is the beginning of %s run ids: %s; give more characters", state.ErrAmbiguous, ref, n, state.ListSome(names))
}

// List returns the runs q selects, newest first.
func (b *Backend) List(q state.Query) ([]*state.Run, error) {
	where := []string{"project = $1"}
	args := []any{b.project}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Address != "" {
		if name, ok := strings.CutPrefix(q.Address, "experiment."); ok {
			where = append(where, fmt.Sprintf("(address = %s OR experiment = %s)", arg(q.Address), arg(name)))
		} else {
			where = append(where, "address = "+arg(q.Address))
		}
	}
	if len(q.Status) > 0 {
		var st []string
		for _, s := range q.Status {
			st = append(st, string(s))
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	if !q.Since.IsZero() {
		where = append(where, fmt.Sprintf("(created_s, created_ns) >= (%s, %s)", arg(q.Since.Unix()), arg(int32(q.Since.Nanosecond()))))
	}
	sql := `SELECT data FROM trainrun_runs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY created_s DESC, created_ns DESC, id DESC`
	if q.Limit > 0 {
		sql += " LIMIT " + arg(q.Limit)
	}
	if q.Offset > 0 {
		sql += " OFFSET " + arg(q.Offset)
	}
	runs, err := b.query(sql, args...)
	if err != nil {
		return nil, err
	}
	// The filters again, as Query.Match says them.
	return slices.DeleteFunc(runs, func(r *state.Run) bool { return !q.Match(r) }), nil
}

// WithFingerprint returns the runs whose fingerprint is fp, newest first.
func (b *Backend) WithFingerprint(fp string) ([]*state.Run, error) {
	return b.query(`SELECT data FROM trainrun_runs WHERE project = $1 AND fingerprint = $2
		ORDER BY created_s DESC, created_ns DESC, id DESC`, b.project, fp)
}

// Put records runs, all of them or none.
func (b *Backend) Put(runs ...*state.Run) error {
	if len(runs) == 0 {
		return nil
	}
	b.mu.Lock()
	timeout := b.lockTimeout
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return b.Update(ctx, func(tx state.Tx) error { return tx.Put(runs...) })
}

// Sync does nothing: what is committed is on the server's disk.
func (b *Backend) Sync() error { return nil }

// encoded is a run ready to store.
type encoded struct {
	js  string
	run *state.Run
}

// txn is the record inside Update.
type txn struct {
	b      *Backend
	ctx    context.Context
	tx     pgx.Tx
	serial uint64
	puts   []encoded
	own    map[string]*state.Run // put in the transaction, by id
	heads  map[string]*state.Run // latest in the transaction, by address
}

func (t *txn) Serial() uint64 { return t.serial }

func (t *txn) Latest(address string) *state.Run {
	if r := t.heads[address]; r != nil {
		return r.Clone()
	}
	if r := t.b.heads[address]; r != nil {
		return r.Clone()
	}
	return nil
}

func (t *txn) Get(id string) (*state.Run, error) {
	if r := t.own[id]; r != nil {
		return r.Clone(), nil
	}
	runs, err := queryRuns(t.ctx, t.tx, `SELECT data FROM trainrun_runs WHERE project = $1 AND id = $2`, t.b.project, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: %s", state.ErrNotFound, id)
	}
	return runs[0], nil
}

func (t *txn) Put(runs ...*state.Run) error {
	enc := make([]encoded, len(runs))
	for i, r := range runs {
		if r == nil {
			return errors.New("put: nil run")
		}
		js, stored, err := state.EncodeRun(r)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		enc[i] = encoded{js, stored}
	}
	for _, e := range enc {
		t.puts = append(t.puts, e)
		t.own[e.run.ID] = e.run
		if e.run.ReproOf == "" {
			if h := t.Latest(e.run.Address); h == nil || h.ID == e.run.ID || state.CompareRuns(e.run, h) > 0 {
				t.heads[e.run.Address] = e.run
			}
		}
	}
	return nil
}

// Update runs fn in a transaction, with no other writer in between.
func (b *Backend) Update(ctx context.Context, fn func(state.Tx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.do(func() error {
		if err := b.writeLock(ctx); err != nil {
			return err
		}
		conn := b.conn
		defer func() {
			if conn == b.conn {
				conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key(b.project, "lock"))
			}
		}()
		return b.update(ctx, fn)
	})
}

func (b *Backend) update(ctx context.Context, fn func(state.Tx) error) error {
	bg := context.Background() // a transaction once begun ends by commit or rollback, not by ctx
	tx, err := b.conn.Begin(bg)
	if err != nil {
		return fmt.Errorf("postgres backend: begin: %w", err)
	}
	defer tx.Rollback(bg)
	var serial int64
	var lineage string
	if err := tx.QueryRow(bg, `SELECT serial, lineage FROM trainrun_projects WHERE name = $1 FOR UPDATE`, b.project).Scan(&serial, &lineage); err != nil {
		return fmt.Errorf("postgres backend: read: %w", err)
	}
	if err := b.catchUp(bg, tx, uint64(serial), lineage); err != nil {
		return err
	}
	t := &txn{b: b, ctx: bg, tx: tx, serial: b.serial, own: map[string]*state.Run{}, heads: map[string]*state.Run{}}
	if err := fn(t); err != nil {
		return err
	}
	if len(t.puts) == 0 {
		return tx.Commit(bg)
	}
	if lineage == "" {
		lineage = rand.Text()
	}
	next := b.serial
	batch := &pgx.Batch{}
	for _, e := range t.puts {
		next++
		r := e.run
		batch.Queue(`INSERT INTO trainrun_runs (project, id, address, fingerprint, repro_of, created_s, created_ns, live, seq, experiment, status, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (project, id) DO UPDATE SET address = $3, fingerprint = $4, repro_of = $5, created_s = $6, created_ns = $7,
			live = $8, seq = $9, experiment = $10, status = $11, data = $12`,
			b.project, r.ID, r.Address, r.Fingerprint, r.ReproOf, r.CreatedAt.Unix(), int32(r.CreatedAt.Nanosecond()), r.Live(),
			int64(next), r.Experiment, string(r.Status), e.js)
		if r.ReproOf == "" {
			batch.Queue(`INSERT INTO trainrun_heads AS h (project, address, id, created_s, created_ns) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (project, address) DO UPDATE SET id = $3, created_s = $4, created_ns = $5
				WHERE h.id = $3 OR (h.created_s, h.created_ns, h.id) < ($4, $5, $3)`,
				b.project, r.Address, r.ID, r.CreatedAt.Unix(), int32(r.CreatedAt.Nanosecond()))
		}
	}
	batch.Queue(`UPDATE trainrun_projects SET serial = $2, lineage = $3 WHERE name = $1`, b.project, int64(next), lineage)
	if err := tx.SendBatch(bg, batch).Close(); err != nil {
		return fmt.Errorf("postgres backend: write runs: %w", err)
	}
	if err := tx.Commit(bg); err != nil {
		return fmt.Errorf("postgres backend: commit: %w", err)
	}
	runs := make([]*state.Run, len(t.puts))
	for i, e := range t.puts {
		runs[i] = e.run
	}
	b.apply(runs)
	b.serial, b.lineage = next, lineage
	return nil
}

// writeLock takes the writers' lock for a transaction, waiting until ctx
// is done. It requires b.mu, which it lets go while it waits.
func (b *Backend) writeLock(ctx context.Context) error {
	k := key(b.project, "lock")
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var ok bool
		if err := b.conn.QueryRow(context.Background(), `SELECT pg_try_advisory_lock($1)`, k).Scan(&ok); err != nil {
			return b.broken(fmt.Errorf("postgres backend: lock: %w", err))
		}
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			h, _, _ := b.holder("lock")
			return &state.LockedError{Holder: h, Path: "postgres://" + b.Where() + " project " + b.project}
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		b.mu.Lock()
		if err := b.ready(); err != nil {
			return err
		}
	}
}

// holder says who holds the advisory lock of name, from the note its
// session wrote. It requires b.mu.
func (b *Backend) holder(name string) (state.Holder, bool, error) {
	k := uint64(key(b.project, name))
	var js *string
	err := b.conn.QueryRow(context.Background(), `SELECT h.holder FROM pg_locks l
		LEFT JOIN trainrun_holders h ON h.project = $1 AND h.key = $2 AND h.session = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid::bigint = $3 AND l.objid::bigint = $4
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, b.project, name, int64(k>>32), int64(k&0xffffffff)).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return state.Holder{}, false, nil
	}
	if err != nil {
		return state.Holder{}, false, b.broken(fmt.Errorf("postgres backend: who holds %s: %w", name, err))
	}
	var h state.Holder
	if js != nil {
		json.Unmarshal([]byte(*js), &h)
	}
	return h, true, nil
}

// note writes who holds the advisory lock of name. It requires b.mu.
func (b *Backend) note(name string, h state.Holder) error {
	js, _ := json.Marshal(h)
	_, err := b.conn.Exec(context.Background(), `INSERT INTO trainrun_holders (project, key, session, holder, noted_at) VALUES ($1, $2, pg_backend_pid(), $3, now())
		ON CONFLICT (project, key) DO UPDATE SET session = pg_backend_pid(), holder = $3, noted_at = now()`, b.project, name, string(js))
	return b.broken(err)
}

// Lock makes this process the only writer until Unlock.
func (b *Backend) Lock(h state.Holder) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.locked && !b.closed {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // try once
	h = h.Fill()
	return b.do(func() error {
		if err := b.writeLock(ctx); err != nil {
			return err
		}
		b.locked, b.lockHolder = true, h
		return b.note("lock", h)
	})
}

// Unlock ends Lock.
func (b *Backend) Unlock() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.locked || b.conn == nil {
		b.locked = false
		return nil
	}
	b.locked = false
	_, err := b.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key(b.project, "lock"))
	return b.broken(err)
}

// claim is an instance claimed by this process.
type claim struct {
	b       *Backend
	address string
	holder  state.Holder
	lost    chan struct{}
	once    sync.Once
}

func (c *claim) Address() string       { return c.address }
func (c *claim) Lost() <-chan struct{} { return c.lost }
func (c *claim) lose()                 { c.once.Do(func() { close(c.lost) }) }
func (c *claim) Release() error        { return c.b.release(c) }
func claimKey(address string) string   { return "claim " + address }

// Claim claims the instance at address for h, waiting while another
// process holds it.
func (b *Backend) Claim(ctx context.Context, address string, h state.Holder) (state.Claim, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h = h.Fill()
	name := claimKey(address)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if b.claims[address] != nil {
			return nil, &state.ClaimedError{Address: address, Holder: h, Err: errors.New("claimed twice by this process")}
		}
		// One round trip: take the lock and say who took it. A claim
		// held before the server (re)started is its holder's for
		// claimGrace, to take again.
		var ok bool
		err := b.do(func() (err error) {
			ok, err = b.tryClaim(name, h, claimGrace)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("postgres backend: claim %s: %w", address, err)
		}
		if ok {
			break
		}
		if ctx.Err() != nil {
			holder, _, _ := b.holder(name)
			return nil, &state.ClaimedError{Address: address, Holder: holder, Err: ctx.Err()}
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		b.mu.Lock()
	}
	c := &claim{b: b, address: address, holder: h, lost: make(chan struct{})}
	b.claims[address] = c
	if len(b.claims) == 1 {
		go b.watch()
	}
	return c, nil
}

// tryClaim takes the advisory lock of name and says who took it, in one
// round trip. A claim held before the server (re)started is its holder's
// for grace after the start. It requires b.mu.
func (b *Backend) tryClaim(name string, h state.Holder, grace time.Duration) (bool, error) {
	js, _ := json.Marshal(h)
	var ok bool
	err := b.conn.QueryRow(context.Background(), `WITH t AS (
			SELECT CASE WHEN EXISTS (SELECT 1 FROM trainrun_holders WHERE project = $2 AND key = $3
				AND noted_at < pg_postmaster_start_time() AND now() < pg_postmaster_start_time() + $5 * interval '1 second')
			THEN false ELSE pg_try_advisory_lock($1) END AS ok
		), n AS (
			INSERT INTO trainrun_holders (project, key, session, holder, noted_at) SELECT $2, $3, pg_backend_pid(), $4, now() FROM t WHERE t.ok
			ON CONFLICT (project, key) DO UPDATE SET session = pg_backend_pid(), holder = $4, noted_at = now()
		) SELECT ok FROM t`, key(b.project, name), b.project, name, string(js), grace.Seconds()).Scan(&ok)
	return ok, b.broken(err)
}

// watch notices, while claims are held, that the session ended, and dials
// again at once to take them back.
func (b *Backend) watch() {
	for {
		time.Sleep(time.Second)
		b.mu.Lock()
		if len(b.claims) == 0 || b.closed {
			b.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if b.conn != nil {
			if err := b.conn.Ping(ctx); err != nil {
				b.conn.Close(context.Background())
				b.conn = nil
			}
		}
		if b.conn == nil {
			b.ready() // a failure is left to the next operation
		}
		cancel()
		b.mu.Unlock()
	}
}

func (b *Backend) release(c *claim) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.claims[c.address] != c {
		return nil // released already, or lost
	}
	delete(b.claims, c.address)
	if b.conn == nil {
		return nil // the session ended: the server let it go
	}
	name := claimKey(c.address)
	_, err := b.conn.Exec(context.Background(), `WITH d AS (DELETE FROM trainrun_holders WHERE project = $1 AND key = $2 AND session = pg_backend_pid())
		SELECT pg_advisory_unlock($3)`, b.project, name, key(b.project, name))
	if b.broken(err) != nil && b.conn == nil {
		return nil // the session ended with it
	}
	return err
}

// Claimant says who holds the claim on address.
func (b *Backend) Claimant(address string) (state.Holder, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var h state.Holder
	var held bool
	err := b.do(func() (err error) {
		h, held, err = b.holder(claimKey(address))
		return err
	})
	return h, held, err
}

// Close ends the session: claims and the lock are released.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, c := range b.claims {
		c.lose()
	}
	clear(b.claims)
	if b.conn == nil {
		return nil
	}
	return b.conn.Close(context.Background())
}

// records reads the records of kind, oldest first.
func (b *Backend) records(kind string) ([]string, error) {
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	err := b.do(func() error {
		rows, err := b.conn.Query(ctx, `SELECT data FROM trainrun_records WHERE project = $1 AND kind = $2 ORDER BY ord`, b.project, kind)
		if err == nil {
			out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("postgres backend: read %s records: %w", kind, err)
		}
		return nil
	})
	return out, err
}

// putRecord records data as the record of kind named key, replacing it.
func (b *Backend) putRecord(kind, key, data string) error {
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.do(func() error {
		// A replaced record counts as new: All lists records oldest
		// first, as the local backend does.
		_, err := b.conn.Exec(ctx, `INSERT INTO trainrun_records (project, kind, key, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (project, kind, key) DO UPDATE SET data = $4, ord = nextval(pg_get_serial_sequence('trainrun_records', 'ord'))`,
			b.project, kind, key, data)
		if err != nil {
			return fmt.Errorf("postgres backend: record %s: %w", kind, err)
		}
		return nil
	})
}

// PutLog keeps the collected log of run id (its last state.MaxKeptLog
// bytes).
func (b *Backend) PutLog(id string, log []byte) error {
	if len(log) > state.MaxKeptLog {
		log = log[len(log)-state.MaxKeptLog:]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.do(func() error {
		_, err := b.conn.Exec(context.Background(), `INSERT INTO trainrun_logs (project, id, log) VALUES ($1, $2, $3)
			ON CONFLICT (project, id) DO UPDATE SET log = $3`, b.project, id, log)
		if err != nil {
			return fmt.Errorf("postgres backend: keep the log of run %s: %w", id, err)
		}
		return nil
	})
}

// Log returns the kept log of run id.
func (b *Backend) Log(id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var log []byte
	err := b.do(func() error {
		return b.conn.QueryRow(context.Background(), `SELECT log FROM trainrun_logs WHERE project = $1 AND id = $2`, b.project, id).Scan(&log)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, logNotKept(id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres backend: the log of run %s: %w", id, err)
	}
	return log, nil
}

// logNotKept is the error of Log for a run whose log is not in the
// database: it says where the log is instead, and is a state.ErrNotFound.
type logNotKept string

func (id logNotKept) Error() string {
	return fmt.Sprintf("the log of run %s is not in the database: the checkout that collected it did not keep it there; it is in that checkout's .trainrun/runs/%s/log", string(id), string(id))
}

func (logNotKept) Unwrap() error { return state.ErrNotFound }

// Computes returns the records of attached computes.
func (b *Backend) Computes() (state.ComputeRecords, error) {
	rows, err := b.records("compute")
	if err != nil {
		return nil, err
	}
	c := &computes{b: b, recs: map[string]*state.Compute{}}
	for _, js := range rows {
		rec := new(state.Compute)
		if err := json.Unmarshal([]byte(js), rec); err != nil {
			return nil, fmt.Errorf("postgres backend: a compute record: %w", err)
		}
		c.recs[rec.Name] = rec
	}
	return c, nil
}

type computes struct {
	b    *Backend
	mu   sync.Mutex
	recs map[string]*state.Compute
}

func (c *computes) Get(name string) *state.Compute {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.recs[name]; r != nil {
		cp := *r
		cp.Hosts = slices.Clone(r.Hosts)
		return &cp
	}
	return nil
}

func (c *computes) All() []*state.Compute {
	c.mu.Lock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range c.recs {
			if !yield(n) {
				return
			}
		}
	})
	c.mu.Unlock()
	out := make([]*state.Compute, len(names))
	for i, n := range names {
		out[i] = c.Get(n)
	}
	return out
}

func (c *computes) Put(rec *state.Compute) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record compute: %w", err)
	}
	if err := c.b.putRecord("compute", rec.Name, string(js)); err != nil {
		return err
	}
	cp := new(state.Compute)
	json.Unmarshal(js, cp)
	c.mu.Lock()
	c.recs[rec.Name] = cp
	c.mu.Unlock()
	return nil
}

// Environments returns the environments prepared on computes.
func (b *Backend) Environments() (state.EnvironmentRecords, error) {
	rows, err := b.records("environment")
	if err != nil {
		return nil, err
	}
	e := &environments{b: b}
	for _, js := range rows {
		rec := new(state.Environment)
		if err := json.Unmarshal([]byte(js), rec); err != nil {
			return nil, fmt.Errorf("postgres backend: an environment record: %w", err)
		}
		e.list = append(e.list, js)
	}
	return e, nil
}

// environments keeps each record as JSON: decoding gives a fresh copy.
type environments struct {
	b    *Backend
	mu   sync.Mutex
	list []string // oldest first
}

func (e *environments) All() []*state.Environment {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*state.Environment, 0, len(e.list))
	for _, js := range e.list {
		rec := new(state.Environment)
		json.Unmarshal([]byte(js), rec)
		out = append(out, rec)
	}
	return out
}

func (e *environments) Find(compute, id, location string) *state.Environment {
	all := e.All()
	for i := len(all) - 1; i >= 0; i-- {
		r := all[i]
		if r.Compute == compute && r.Spec.ID == id && (location == "" || r.Location == location) {
			return r
		}
	}
	return nil
}

func (e *environments) Last(name, compute string) *state.Environment {
	var best *state.Environment
	for _, r := range e.All() {
		if r.Name == name && r.Compute == compute && (best == nil || !r.PreparedAt.Before(best.PreparedAt)) {
			best = r
		}
	}
	return best
}

func (e *environments) Spec(id string) (providers.EnvSpec, bool) {
	all := e.All()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Spec.ID == id {
			return all[i].Spec, true
		}
	}
	return providers.EnvSpec{}, false
}

func envKey(r *state.Environment) string {
	return r.Compute + "\n" + r.Spec.ID + "\n" + r.Location
}

func (e *environments) Put(rec *state.Environment) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record environment: %w", err)
	}
	if err := e.b.putRecord("environment", envKey(rec), string(js)); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = slices.DeleteFunc(e.list, func(s string) bool {
		r := new(state.Environment)
		json.Unmarshal([]byte(s), r)
		return envKey(r) == envKey(rec)
	})
	e.list = append(e.list, string(js))
	return nil
}

func (e *environments) PutLock(text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	h := hex.EncodeToString(sum[:])
	return h, e.b.putRecord("lock", h, text)
}

func (e *environments) Lock(hash string) (string, error) {
	ctx := context.Background()
	b := e.b
	b.mu.Lock()
	defer b.mu.Unlock()
	var text string
	err := b.do(func() error {
		return b.conn.QueryRow(ctx, `SELECT data FROM trainrun_records WHERE project = $1 AND kind = 'lock' AND key = $2`, b.project, hash).Scan(&text)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("environment lock %q: %w", hash, state.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("environment lock: %w", err)
	}
	return text, nil
}
