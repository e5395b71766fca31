package main

// nsup lock, nsup lock --check and the lock check of plan and apply:
// FILE.lock, next to the spec and meant to be committed with it, records
// what each environment's rootfs holds, file by file, so that a sandbox
// comes up the same on every machine or says exactly what differs. --check
// writes nothing and exits 0 (the lock matches), 1 (it differs, or there
// is none) or 2 (it cannot be checked): a CI step can gate on it.
//
// The format is JSON lines, one object per line, sorted, so that a diff
// of two locks shows one line per changed file:
//
//	{"nsupLock":2}
//	{"env":"hello","rootfs":"closure","digest":"sha256:…"}
//	{"env":"hello","path":"./tools/mytool","type":"file","mode":"0755","size":210,"digest":"sha256:…"}
//	{"env":"hello","path":"/bin","type":"symlink","link":"usr/bin"}
//	{"env":"hello","path":"/usr/bin/sh","type":"file","mode":"0755","size":125688,"digest":"sha256:…"}
//
// The files are the tree's (closure) or the archive's members as nsup
// unpacks them (tar). A dir rootfs is a folder that changes as it likes:
// only its kind is locked.
//
// A lock is committed with the spec and checked in other clones of the
// repository, at other paths. A closure places a host file at its host
// path, inside the environment too: a file of the spec's folder, named
// in the closure as ./tools/mytool, is at /home/godev/proj/tools/mytool
// in godev's clone's tree and at /home/teammate/proj/tools/mytool in the
// teammate's. The lock keys such an entry by its path relative to the
// spec's folder ("./tools/mytool"; the folder itself is "."), so that the
// same files in another clone are the same lock: what the repository
// gives, wherever it is. (The environment still sees the file at this
// clone's absolute path: a program that records its own path sees it
// differ between clones, as it would outside nsup.) The folders and
// symlinks on the way to the spec's folder (/home, /home/godev) are where
// the clone is, not what it holds: they are not locked, unless the
// environment needs them for something else too (a mount target, a
// working folder, another file of the tree). A path outside the spec's
// folder is absolute, as the environment sees it.
//
// The rootfs digest is the archive's (tar) or, for a closure, the tree
// digest (planner.TreeDigest) of the files as the lock records them: the
// tree's own digest, the cache key, when the tree holds nothing of the
// spec's folder.
//
// Format 1 recorded every path absolute (and a closure's digest was its
// tree's). It is still read: its paths in this spec's folder are taken
// as this clone's; nsup lock rewrites it in format 2.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/internal/regfile"
	"github.com/nsup/nsup/planner"
)

const lockHelp = `Writes FILE.lock next to FILE: for each environment, the kind and digest
of its rootfs and every file in it (path, type, mode, size, sha256; a tar
archive's members as nsup unpacks them). Commit it with the spec: nsup plan
and nsup apply then refuse a rootfs that differs from it, and say which
file changed, from which digest to which, and which path of the closure
needs it; --update-lock accepts the new state. The file is JSON lines,
sorted, one line per file; a file of the spec's folder is listed by its
path relative to it (./tools/mytool), so that every clone of a repository
has the same lock. FILE defaults to nsup.yaml in this folder or the
nearest folder above that has one. Needs no privilege; writes only
FILE.lock.

With --check, writes nothing: compares the rootfs with FILE.lock as plan
does, and exits 0 when they match, 1 when they differ (or there is no
FILE.lock), printing what differs, and 2 on a usage error, an invalid spec
or lock, or a file it cannot read. A CI step that runs
nsup lock --check nsup.yaml fails when a commit changes what the lock
covers without nsup lock.`

// lockVersion is the format of the lock file; format 1 is still read.
const lockVersion = 2

// lockLine is one line of a lock file: the header, an environment's rootfs,
// or one file of it.
type lockLine struct {
	NsupLock int    `json:"nsupLock,omitempty"`
	Env      string `json:"env,omitempty"`
	Rootfs   string `json:"rootfs,omitempty"`
	Path     string `json:"path,omitempty"`
	Type     string `json:"type,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Link     string `json:"link,omitempty"`
}

// lockedEnv is one environment of a lock.
type lockedEnv struct {
	kind, digest string
	files        []planner.File // keyed as the lock records them, without Source
}

func lockFile(p *planner.Plan) (name, shown string) { return p.SpecPath + ".lock", p.Spec + ".lock" }

func runLock(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("lock", args, ios)
	if err != nil {
		return helpOK(err)
	}
	var file string
	switch len(rest) {
	case 0:
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if file, err = specFile(wd); err != nil {
			return err
		}
	case 1:
		file = rest[0]
	default:
		return usageError{"lock takes one FILE"}
	}
	idx := planner.NewIndex(planner.DefaultCacheDir())
	p, err := compile(file, nil, idx)
	if err != nil {
		return err
	}
	if pf.check {
		return lockCheck(p, idx, ios)
	}
	envs, err := lockState(p)
	if err != nil {
		return err
	}
	name, shown := lockFile(p)
	if err := writeFileAtomic(name, encodeLock(envs), 0o644); err != nil {
		return err
	}
	n := 0
	for _, e := range envs {
		n += len(e.files)
	}
	fmt.Fprintf(ios.stdout, "%s: %s, %s\n", shown, plural(len(envs), "environment"), plural(n, "file"))
	return nil
}

// lockCheck is nsup lock --check: exit status 0 when p matches its lock,
// 1 when it differs (or has none), with the report plan would print; 2
// when the lock cannot be read or compared (a damaged lock, an archive
// that cannot be read). It writes nothing.
func lockCheck(p *planner.Plan, idx *planner.Index, ios ioSet) error {
	trouble := func(err error) error {
		var ie invalidError
		var ue usageError
		if errors.As(err, &ie) || errors.As(err, &ue) {
			return err
		}
		return invalidError{fmt.Errorf("nsup: %w", err)}
	}
	_, shown := lockFile(p)
	locked, version, err := loadLock(p)
	if err != nil {
		return trouble(err)
	}
	if locked == nil {
		fmt.Fprintf(ios.stderr, "%s: no lock: nsup lock %s writes it\n", shown, p.Spec)
		return exitStatus(exitFailure)
	}
	report, err := compareLock(p, locked, idx, true)
	if err != nil {
		return trouble(err)
	}
	if len(report) > 0 {
		fmt.Fprintf(ios.stderr, "%s: the rootfs differs from the lock (nsup lock accepts it):\n%s\n", shown, shortReport(report))
		return exitStatus(exitFailure)
	}
	if version != lockVersion {
		fmt.Fprintf(ios.stderr, "nsup: %s is of format %d: nsup lock rewrites it in format %d\n", shown, version, lockVersion)
	}
	fmt.Fprintf(ios.stdout, "%s: up to date (%s)\n", shown, plural(len(locked), "environment"))
	return nil
}

// lockState is what the lock says of p's environments now.
func lockState(p *planner.Plan) (map[string]lockedEnv, error) {
	out := map[string]lockedEnv{}
	sp := placeOf(p)
	tars := map[string][]planner.File{}
	for _, e := range p.Environments {
		if le, ok, err := envState(e, sp, tars); err != nil {
			return nil, err
		} else if ok {
			out[e.Name] = le
		}
	}
	return out, nil
}

// envState is what the lock says of e now (false: e has no rootfs of its
// own). A tar archive's members are read (once per archive, kept in
// tars); a closure's files are the plan's.
func envState(e planner.Env, sp specPlace, tars map[string][]planner.File) (lockedEnv, bool, error) {
	r, ok := rootfsOf(e)
	if !ok {
		return lockedEnv{}, false, nil
	}
	le := lockedEnv{kind: r.Type, digest: r.Digest}
	switch r.Type {
	case "closure":
		le.files, le.digest = sp.closure(r, e)
	case "tar":
		files, ok := tars[r.Sources[0]]
		if !ok {
			var d string
			var err error
			files, d, err = planner.TarFiles(r.Sources[0])
			if err != nil {
				return le, false, invalidError{fmt.Errorf("%s: rootfs.tar: %w", e.Name, err)}
			}
			if d != r.Digest {
				return le, false, fmt.Errorf("%s: %s changed while nsup read it (%s, then %s)", e.Name, r.Sources[0], r.Digest, d)
			}
			tars[r.Sources[0]] = files
		}
		le.files = files
	default:
		le.digest = ""
	}
	return le, true, nil
}

// lockDigest is the digest the lock records of e's rootfs now: for a
// closure, of its files as the lock records them (no file is read).
func lockDigest(e planner.Env, r planner.Rootfs, sp specPlace) string {
	if r.Type == "closure" {
		_, d := sp.closure(r, e)
		return d
	}
	return r.Digest
}

func rootfsOf(e planner.Env) (planner.Rootfs, bool) {
	for _, st := range e.Steps {
		if r, ok := st.Op.(planner.Rootfs); ok {
			return r, true
		}
	}
	return planner.Rootfs{}, false
}

func encodeLock(envs map[string]lockedEnv) []byte {
	var b bytes.Buffer
	line := func(l lockLine) {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	line(lockLine{NsupLock: lockVersion})
	names := make([]string, 0, len(envs))
	for n := range envs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		e := envs[n]
		line(lockLine{Env: n, Rootfs: e.kind, Digest: e.digest})
		files := slices.Clone(e.files)
		slices.SortFunc(files, func(a, b planner.File) int { return strings.Compare(a.Path, b.Path) })
		for _, f := range files {
			l := lockLine{Env: n, Path: f.Path, Type: f.Type, Size: f.Size, Digest: f.Digest, Link: f.Link}
			if f.Type != "symlink" {
				l.Mode = fmt.Sprintf("%04o", f.Mode)
			}
			line(l)
		}
	}
	return b.Bytes()
}

// maxLock bounds a lock file: it lists each file of an environment's
// trees, about 150 bytes a file.
const maxLock = 64 << 20

// readLock reads a lock file, and its format; (nil, 0, nil) when there
// is none. A symlink's mode is 0777, as the lock has none.
//
// The lock is found beside the spec, in a repository: only a regular file
// is opened (a symlink in the repository to /dev/zero or a FIFO made root
// read forever, or block), and at most maxLock bytes are read.
func readLock(name, shown string) (map[string]lockedEnv, int, error) {
	b, err := regfile.ReadBounded(name, maxLock)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	out := map[string]lockedEnv{}
	version := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1) // a line is as long as nsup wrote it
	for n := 1; sc.Scan(); n++ {
		bad := func(msg string) error {
			return invalidError{fmt.Errorf("%s:%d: %s (rewrite it with nsup lock)", shown, n, msg)}
		}
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l lockLine
		d := json.NewDecoder(strings.NewReader(sc.Text()))
		d.DisallowUnknownFields()
		if err := d.Decode(&l); err != nil {
			return nil, 0, bad(err.Error())
		}
		switch {
		case n == 1:
			if l.NsupLock != 1 && l.NsupLock != lockVersion {
				return nil, 0, bad(fmt.Sprintf("not an nsup lock of format %d (nor 1)", lockVersion))
			}
			version = l.NsupLock
		case l.Env == "":
			return nil, 0, bad("a line without env")
		case l.Path == "":
			if _, dup := out[l.Env]; dup || l.Rootfs == "" {
				return nil, 0, bad("a second rootfs line, or one without rootfs")
			}
			out[l.Env] = lockedEnv{kind: l.Rootfs, digest: l.Digest}
		default:
			e, ok := out[l.Env]
			if !ok {
				return nil, 0, bad("a file before its environment's rootfs line")
			}
			if !strings.HasPrefix(l.Path, "/") && (version == 1 || (l.Path != "." && !strings.HasPrefix(l.Path, "./"))) {
				return nil, 0, bad("path " + strconv.Quote(l.Path) + ": neither absolute nor relative to the spec's folder (./…)")
			}
			f := planner.File{Path: l.Path, Type: l.Type, Size: l.Size, Digest: l.Digest, Link: l.Link}
			if l.Mode != "" {
				if _, err := fmt.Sscanf(l.Mode, "%o", &f.Mode); err != nil {
					return nil, 0, bad("mode " + l.Mode)
				}
			}
			if f.Type == "symlink" {
				f.Mode = 0o777
			}
			e.files = append(e.files, f)
			out[l.Env] = e
		}
	}
	return out, version, sc.Err()
}

// loadLock reads p's lock (nil when there is none), format 1 taken as
// format 2: its closures' paths in the spec's folder are taken as this
// clone's (relative), the folders on the way to it left out, as p's
// environments need them (an environment p lacks: as if it needed
// none).
func loadLock(p *planner.Plan) (locked map[string]lockedEnv, version int, err error) {
	name, shown := lockFile(p)
	locked, version, err = readLock(name, shown)
	if err != nil || version != 1 {
		return locked, version, err
	}
	sp := placeOf(p)
	for n, l := range locked {
		if l.kind != "closure" {
			continue
		}
		var needed []string
		if i := slices.IndexFunc(p.Environments, func(e planner.Env) bool { return e.Name == n }); i >= 0 {
			needed = inTreePaths(p.Environments[i])
		}
		if files, changed := sp.portable(l.files, needed); changed {
			l.files, l.digest = files, planner.TreeDigest(files)
			locked[n] = l
		}
	}
	return locked, version, nil
}

// compareLock reports, one line each, how p's environments differ from
// the lock: all says p holds every environment of the spec (else
// environments of the lock that p lacks are not compared).
func compareLock(p *planner.Plan, locked map[string]lockedEnv, idx *planner.Index, all bool) ([]string, error) {
	var report []string
	sp := placeOf(p)
	tars := map[string][]planner.File{}
	for _, e := range p.Environments {
		r, _ := rootfsOf(e)
		l, ok := locked[e.Name]
		switch {
		case !ok:
			report = append(report, fmt.Sprintf("  %s: not in the lock", e.Name))
			continue
		case l.kind != r.Type:
			report = append(report, fmt.Sprintf("  %s: rootfs %s (locked) -> %s (now)", e.Name, l.kind, r.Type))
			continue
		case r.Type == "dir":
			continue
		}
		d := lockDigest(e, r, sp)
		if l.digest == d {
			continue
		}
		// The digests differ: now the files are worth listing.
		state, _, err := envState(e, sp, tars)
		if err != nil {
			return nil, err
		}
		report = append(report, fmt.Sprintf("  %s: rootfs %s %s (locked) -> %s (now)", e.Name, r.Type, l.digest, d))
		report = append(report, diffFiles(e.Name, r, l.files, state.files, idx, sp)...)
	}
	if all {
		var gone []string
		for n := range locked {
			if !slices.ContainsFunc(p.Environments, func(e planner.Env) bool { return e.Name == n }) {
				gone = append(gone, fmt.Sprintf("  %s: in the lock, no longer in the spec", n))
			}
		}
		slices.Sort(gone)
		report = append(report, gone...)
	}
	return report, nil
}

// shortReport is report cut to its first 60 lines, printable.
func shortReport(report []string) string {
	const max = 60
	if len(report) > max {
		report = append(report[:max:max], fmt.Sprintf("  … and %d more", len(report)-max))
	}
	return printableReport(report)
}

// printableReport joins the report's lines, each shown printable: the
// paths and link targets come from an archive, a closure's folders or a
// lock file others may have written, and a name holding a terminal's
// escape sequences would otherwise rewrite what the reader sees (a
// review: a member named "\x1b[2K\r  b: nothing changed").
func printableReport(report []string) string {
	out := make([]string, len(report))
	for i, l := range report {
		out[i] = lifecycle.Printable(l)
	}
	return strings.Join(out, "\n")
}

// checkLock compares p with its spec's lock file, if there is one. A
// difference is refused (exit status 2) with a report, file by file,
// unless update is set: the lock is then rewritten with the state of now.
// all says p holds every environment of the spec (else environments of
// the lock that p lacks are not compared, and are kept on update).
func checkLock(p *planner.Plan, idx *planner.Index, all, update bool, ios ioSet) error {
	name, shown := lockFile(p)
	locked, _, err := loadLock(p)
	if err != nil || (locked == nil && !update) {
		return err
	}
	report, err := compareLock(p, locked, idx, all)
	if err != nil {
		return err
	}
	if len(report) == 0 && locked != nil {
		return nil
	}
	if !update {
		return invalidError{fmt.Errorf("%s: refused: the rootfs differs from the lock (nsup plan --update-lock or nsup lock accepts it):\n%s", shown, shortReport(report))}
	}
	state, err := lockState(p)
	if err != nil {
		return err
	}
	if !all {
		for n, e := range locked {
			if _, ok := state[n]; !ok {
				state[n] = e
			}
		}
	}
	if err := writeFileAtomic(name, encodeLock(state), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(ios.stderr, "nsup: %s updated:\n%s\n", shown, printableReport(report))
	return nil
}

// diffFiles reports, one line per path, how the files of an environment's
// rootfs differ from the locked ones (both keyed as the lock keys them:
// sp), and for a closure which of its paths needs each file that is new
// or changed.
func diffFiles(env string, r planner.Rootfs, old, cur []planner.File, idx *planner.Index, sp specPlace) []string {
	from := map[string][]string{}
	if r.Type == "closure" {
		// Only when something differs: it resolves the closure again,
		// noting which requested path needs what (keyed here as the
		// lock keys the files).
		_, byTree, _ := planner.ClosureData(r.Sources, r.Data, idx)
		for p, l := range byTree {
			from[sp.key(p)] = l
		}
	}
	neededBy := func(p string) string {
		switch {
		case r.Type != "closure":
			return ""
		case len(from[p]) > 0:
			return ", needed by " + strings.Join(from[p], ", ")
		}
		return ", made for a mount target or working directory"
	}
	byPath := func(fs []planner.File) map[string]planner.File {
		m := map[string]planner.File{}
		for _, f := range fs {
			m[f.Path] = f
		}
		return m
	}
	o, c := byPath(old), byPath(cur)
	var paths []string
	for p := range o {
		paths = append(paths, p)
	}
	for p := range c {
		if _, ok := o[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []string
	for _, p := range paths {
		a, inOld := o[p]
		b, inNow := c[p]
		var what string
		switch {
		case !inNow:
			what = "removed (was " + describeFile(a) + ")"
		case !inOld:
			what = "added (" + describeFile(b) + ")" + neededBy(p)
		case a.Type != b.Type:
			what = fmt.Sprintf("%s (locked) -> %s (now)%s", describeFile(a), describeFile(b), neededBy(p))
		case a.Digest != b.Digest:
			what = fmt.Sprintf("%s (locked) -> %s (now)%s", a.Digest, b.Digest, neededBy(p))
		case a.Link != b.Link:
			what = fmt.Sprintf("symlink to %q (locked) -> to %q (now)", a.Link, b.Link)
		case a.Type != "symlink" && a.Mode != b.Mode:
			// A symlink has no mode of its own (lchmod(2) does not
			// exist; the lock records none, a tree's are 0777).
			what = fmt.Sprintf("mode %04o (locked) -> %04o (now)", a.Mode, b.Mode)
		default:
			continue
		}
		out = append(out, fmt.Sprintf("  %s: %s: %s", env, p, what))
	}
	return out
}

func describeFile(f planner.File) string {
	switch f.Type {
	case "file":
		return "file " + f.Digest
	case "symlink":
		return fmt.Sprintf("symlink to %q", f.Link)
	}
	return f.Type
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
