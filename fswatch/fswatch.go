// Package fswatch tells when the files a trainrun project is made of
// change: configuration files, variable files and source trees. Source
// trees are watched recursively (inotify is not), and only what a snapshot
// of the tree would hold counts: what .gitignore and .trainrunignore leave
// out (.git, __pycache__, outputs, .trainrun/) never does. Changes come in
// debounced batches, since editors save a file in several steps.
package fswatch

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/trainrun/trainrun/snapshot"
)

// Targets are what a Watcher watches. Paths are absolute.
type Targets struct {
	// Dirs are watched non-recursively, for the entries their Match accepts.
	Dirs []Dir
	// Files are single files, watched by name: they may not exist yet.
	Files []string
	// Trees are watched recursively, with the ignore rules of snapshots.
	Trees []string
}

// Dir is a directory of which some entries count, by name.
type Dir struct {
	Path  string
	Match func(name string) bool
}

// Options tune a Watcher.
type Options struct {
	// Debounce is how long no relevant event must come before a batch
	// goes out. Zero means DefaultDebounce.
	Debounce time.Duration
	// MaxDelay bounds how long a batch may wait while events keep coming.
	// Zero means ten times Debounce, at least a second.
	MaxDelay time.Duration
}

// DefaultDebounce covers the several writes, renames and chmods of one
// editor save.
const DefaultDebounce = 100 * time.Millisecond

// Batch is the changes of one quiet period.
type Batch struct {
	// Paths changed, absolute, sorted, without duplicates.
	Paths []string
	// Overflow says the kernel dropped events: anything may have changed.
	Overflow bool
	// First and Last are when the first and the last event of the batch
	// arrived.
	First, Last time.Time
}

// Watcher watches Targets and sends a Batch after each burst of relevant
// changes.
type Watcher struct {
	opts    Options
	fsw     *fsnotify.Watcher
	changes chan Batch
	errs    chan error
	done    chan struct{}
	exited  chan struct{}
	// add adds one directory to the kernel's watches; tests replace it.
	add func(dir string) error

	mu       sync.Mutex
	targets  Targets
	files    map[string]bool
	dirs     map[string][]func(string) bool // Dir targets by path
	matchers map[string]*snapshot.Matcher   // by tree root
	watched  map[string]bool                // directories with a kernel watch
}

// New starts a Watcher with nothing to watch yet: call Set.
func New(opts Options) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = max(10*opts.Debounce, time.Second)
	}
	fsw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		if errors.Is(err, syscall.EMFILE) {
			return nil, fmt.Errorf("watch files: too many inotify instances (the limit is fs.inotify.max_user_instances = %s); raise it, for example with 'sysctl fs.inotify.max_user_instances=1024': %w",
				readLimit("max_user_instances"), err)
		}
		return nil, fmt.Errorf("watch files: %w", err)
	}
	w := &Watcher{
		opts:     opts,
		fsw:      fsw,
		changes:  make(chan Batch),
		errs:     make(chan error, 16),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		files:    map[string]bool{},
		dirs:     map[string][]func(string) bool{},
		matchers: map[string]*snapshot.Matcher{},
		watched:  map[string]bool{},
	}
	w.add = fsw.Add
	go w.loop()
	return w, nil
}

// Changes delivers a batch after each burst of relevant changes. A batch
// not yet taken grows with the changes that follow. It is closed by Close.
func (w *Watcher) Changes() <-chan Batch { return w.changes }

// Errors delivers problems met while watching: a new directory that could
// not be watched, an event queue error. Watching goes on.
func (w *Watcher) Errors() <-chan error { return w.errs }

// Close stops watching.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.fsw.Close()
	<-w.exited
	return err
}

// Watched is the number of directories under watch.
func (w *Watcher) Watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watched)
}

// Set makes t the watched targets, adding and removing kernel watches as
// needed. Watching goes on without the directories it could not add; the
// error names them (running out of inotify watches, above all).
func (w *Watcher) Set(t Targets) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.targets = t
	w.files = make(map[string]bool, len(t.Files))
	w.dirs = make(map[string][]func(string) bool, len(t.Dirs))
	want := make(map[string]bool)
	for _, f := range t.Files {
		f = filepath.Clean(f)
		w.files[f] = true
		want[filepath.Dir(f)] = true
	}
	for _, d := range t.Dirs {
		p := filepath.Clean(d.Path)
		w.dirs[p] = append(w.dirs[p], d.Match)
		want[p] = true
	}
	matchers := make(map[string]*snapshot.Matcher, len(t.Trees))
	var errs []error
	for _, root := range t.Trees {
		root = filepath.Clean(root)
		m := w.matchers[root]
		if m == nil {
			var err error
			if m, err = snapshot.NewMatcher(root); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		matchers[root] = m
		if err := walkDirs(root, m, func(dir string) { want[dir] = true }); err != nil {
			errs = append(errs, err)
		}
	}
	w.matchers = matchers
	for dir := range w.watched {
		if !want[dir] {
			_ = w.fsw.Remove(dir)
			delete(w.watched, dir)
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(want)) {
		if err := w.watchLocked(dir); err != nil {
			errs = append(errs, err)
			if isLimit(err) {
				break // every further directory would fail the same way
			}
		}
	}
	return errors.Join(errs...)
}

// watchLocked adds a kernel watch on dir. A directory that does not exist
// (yet) is no error: its parent's events tell when it appears.
func (w *Watcher) watchLocked(dir string) error {
	if w.watched[dir] {
		return nil
	}
	if err := w.add(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return watchError(dir, err)
	}
	w.watched[dir] = true
	return nil
}

// LimitError is the error of running out of inotify watches.
type LimitError struct {
	Dir   string // the directory that could not be watched
	Limit string // fs.inotify.max_user_watches, as read from /proc ("?" if unknown)
	Err   error
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("cannot watch %s: out of inotify watches (fs.inotify.max_user_watches = %s, shared by every program of this user). "+
		"Raise the limit, for example with 'sudo sysctl fs.inotify.max_user_watches=524288' (add it to /etc/sysctl.conf to keep it), "+
		"or leave big directories out of the source with .trainrunignore", e.Dir, e.Limit)
}

func (e *LimitError) Unwrap() error { return e.Err }

func isLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

func watchError(dir string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return &LimitError{Dir: dir, Limit: readLimit("max_user_watches"), Err: err}
	}
	return fmt.Errorf("watch %s: %w", dir, err)
}

func readLimit(name string) string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// walkDirs calls fn with dir and each directory below it that m does not
// exclude. Symlinks are not followed, as Scan does not follow them.
func walkDirs(dir string, m *snapshot.Matcher, fn func(string)) error {
	root := m.Root()
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
				return nil // gone meanwhile, or unreadable: Scan reports the latter
			}
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("watch %s: %w", p, err)
		}
		if !d.IsDir() {
			return nil
		}
		if rel, ok := relTo(root, p); ok && m.Excluded(rel, true) {
			return filepath.SkipDir
		}
		fn(p)
		return nil
	})
}

// relTo returns p relative to root, slash-separated ("" for root itself),
// and whether p is root or below it.
func relTo(root, p string) (string, bool) {
	if p == root {
		return "", true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return "", false
	}
	return filepath.ToSlash(rest), true
}

// loop reads the kernel's events and sends debounced batches.
func (w *Watcher) loop() {
	defer close(w.exited)
	defer close(w.changes)
	pending := map[string]bool{}
	var overflow bool
	var first, last time.Time
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	var ready bool // the quiet period has passed: the batch may go out
	for {
		var out chan Batch
		var batch Batch
		if ready {
			out = w.changes
			batch = Batch{Paths: slices.Sorted(maps.Keys(pending)), Overflow: overflow, First: first, Last: last}
		}
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.relevant(ev) {
				continue
			}
			now := time.Now()
			if len(pending) == 0 && !overflow {
				first = now
			}
			last = now
			pending[filepath.Clean(ev.Name)] = true
			ready = false
			// Quiet for Debounce, but never later than MaxDelay after the
			// first event.
			quiet.Reset(min(w.opts.Debounce, max(0, first.Add(w.opts.MaxDelay).Sub(now))))
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: new directories may have gone
				// unwatched, and anything may have changed.
				now := time.Now()
				if len(pending) == 0 && !overflow {
					first = now
				}
				last, overflow, ready = now, true, false
				quiet.Reset(w.opts.Debounce)
				w.mu.Lock()
				err := w.rewalkLocked()
				w.mu.Unlock()
				if err != nil {
					w.report(err)
				}
				continue
			}
			w.report(fmt.Errorf("watch files: %w", err))
		case <-quiet.C:
			ready = len(pending) > 0 || overflow
		case out <- batch:
			clear(pending)
			overflow, ready = false, false
		}
	}
}

func (w *Watcher) report(err error) {
	select {
	case w.errs <- err:
	default: // nobody reads them fast enough; the newest are dropped
	}
}

// relevant reports whether ev changes a target, and keeps the watches in
// step with the trees: new directories are watched, removed ones are
// forgotten, changed ignore files are read again.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == 0 {
		return false
	}
	p := filepath.Clean(ev.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	wasDir := w.watched[p]
	if wasDir && ev.Op.Has(fsnotify.Remove|fsnotify.Rename) {
		// The kernel dropped its watch; a renamed directory comes back as
		// a Create under its new name.
		_ = w.fsw.Remove(p)
		delete(w.watched, p)
		for dir := range w.watched {
			if strings.HasPrefix(dir, p+string(filepath.Separator)) {
				_ = w.fsw.Remove(dir)
				delete(w.watched, dir)
			}
		}
	}
	relevant := w.files[p]
	name := filepath.Base(p)
	for _, match := range w.dirs[filepath.Dir(p)] {
		if match(name) {
			relevant = true
		}
	}
	isDir := wasDir
	if ev.Op.Has(fsnotify.Create) {
		if fi, err := os.Lstat(p); err == nil {
			isDir = fi.IsDir()
		}
	}
	ignoreFile := name == ".gitignore" || name == ".trainrunignore"
	for root, m := range w.matchers {
		rel, ok := relTo(root, p)
		if !ok {
			continue
		}
		if rel == "" {
			relevant = true // the tree itself went or came
			continue
		}
		if ignoreFile {
			// What is left out may have changed: read the rules again
			// and watch what they now let in.
			if nm, err := snapshot.NewMatcher(root); err == nil {
				w.matchers[root] = nm
				m = nm
				if err := w.walkLocked(root, nm, root); err != nil {
					w.report(err)
				}
			}
			relevant = true
			continue
		}
		if m.Excluded(rel, isDir) {
			continue
		}
		relevant = true
		if isDir && ev.Op.Has(fsnotify.Create) {
			// Files made in it before its watch was added are in the
			// batch through the directory itself.
			if err := w.walkLocked(root, m, p); err != nil {
				w.report(err)
			}
		}
	}
	return relevant
}

// walkLocked watches dir and the directories below it that m lets in.
func (w *Watcher) walkLocked(root string, m *snapshot.Matcher, dir string) error {
	var errs []error
	err := walkDirs(dir, m, func(d string) {
		if len(errs) > 0 && isLimit(errs[len(errs)-1]) {
			return
		}
		if err := w.watchLocked(d); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(append(errs, err)...)
}

// rewalkLocked watches every directory of every tree again.
func (w *Watcher) rewalkLocked() error {
	var errs []error
	for root, m := range w.matchers {
		errs = append(errs, w.walkLocked(root, m, root))
	}
	return errors.Join(errs...)
}
