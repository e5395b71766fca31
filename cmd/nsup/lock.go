package main

// nsup lock and the lock check of plan and apply: FILE.lock, next to the
// spec and meant to be committed with it, records what each environment's
// rootfs holds, file by file, so that a sandbox comes up the same on every
// machine or says exactly what differs.
//
// The format is JSON lines, one object per line, sorted, so that a diff
// of two locks shows one line per changed file:
//
//	{"nsupLock":1}
//	{"env":"hello","rootfs":"closure","digest":"sha256:…"}
//	{"env":"hello","path":"/bin","type":"symlink","link":"usr/bin"}
//	{"env":"hello","path":"/usr/bin/sh","type":"file","mode":"0755","size":125688,"digest":"sha256:…"}
//
// The rootfs digest is the tree's (closure) or the archive's (tar); the
// files are the tree's (closure) or the archive's members as nsup unpacks
// them (tar). A dir rootfs is a folder that changes as it likes: only its
// kind is locked.

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
	"strings"

	"github.com/nsup/nsup/planner"
)

const lockHelp = `Writes FILE.lock next to FILE: for each environment, the kind and digest
of its rootfs and every file in it (path, type, mode, size, sha256; a tar
archive's members as nsup unpacks them). Commit it with the spec: nsup plan
and nsup apply then refuse a rootfs that differs from it, and say which
file changed, from which digest to which, and which path of the closure
needs it; --update-lock accepts the new state. The file is JSON lines,
sorted, one line per file. Needs no privilege; writes only FILE.lock.`

// lockVersion is the format of the lock file.
const lockVersion = 1

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
	files        []planner.File // sorted by path, without Source
}

func lockFile(p *planner.Plan) (name, shown string) { return p.SpecPath + ".lock", p.Spec + ".lock" }

func runLock(_ context.Context, args []string, ios ioSet) error {
	rest, _, err := parseFlags("lock", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) != 1 {
		return usageError{"lock takes one FILE"}
	}
	idx := planner.NewIndex(planner.DefaultCacheDir())
	p, err := compile(rest[0], nil, idx)
	if err != nil {
		return err
	}
	envs, err := lockState(p)
	if err != nil {
		return err
	}
	name, shown := lockFile(p)
	if err := writeFileAtomic(name, encodeLock(envs)); err != nil {
		return err
	}
	n := 0
	for _, e := range envs {
		n += len(e.files)
	}
	fmt.Fprintf(ios.stdout, "%s: %s, %s\n", shown, plural(len(envs), "environment"), plural(n, "file"))
	return nil
}

// lockState is what the lock says of p's environments now.
func lockState(p *planner.Plan) (map[string]lockedEnv, error) {
	out := map[string]lockedEnv{}
	tars := map[string][]planner.File{}
	for _, e := range p.Environments {
		r, ok := rootfsOf(e)
		if !ok {
			continue
		}
		le := lockedEnv{kind: r.Type, digest: r.Digest}
		switch r.Type {
		case "closure":
			le.files = r.Files
		case "tar":
			files, ok := tars[r.Sources[0]]
			if !ok {
				var d string
				var err error
				files, d, err = planner.TarFiles(r.Sources[0])
				if err != nil {
					return nil, invalidError{fmt.Errorf("%s: rootfs.tar: %w", e.Name, err)}
				}
				if d != r.Digest {
					return nil, fmt.Errorf("%s: %s changed while nsup read it (%s, then %s)", e.Name, r.Sources[0], r.Digest, d)
				}
				tars[r.Sources[0]] = files
			}
			le.files = files
		default:
			le.digest = ""
		}
		out[e.Name] = le
	}
	return out, nil
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

// readLock reads a lock file; (nil, nil) when there is none.
func readLock(name, shown string) (map[string]lockedEnv, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]lockedEnv{}
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
			return nil, bad(err.Error())
		}
		switch {
		case n == 1:
			if l.NsupLock != lockVersion {
				return nil, bad(fmt.Sprintf("not an nsup lock of format %d", lockVersion))
			}
		case l.Env == "":
			return nil, bad("a line without env")
		case l.Path == "":
			if _, dup := out[l.Env]; dup || l.Rootfs == "" {
				return nil, bad("a second rootfs line, or one without rootfs")
			}
			out[l.Env] = lockedEnv{kind: l.Rootfs, digest: l.Digest}
		default:
			e, ok := out[l.Env]
			if !ok {
				return nil, bad("a file before its environment's rootfs line")
			}
			f := planner.File{Path: l.Path, Type: l.Type, Size: l.Size, Digest: l.Digest, Link: l.Link}
			if l.Mode != "" {
				if _, err := fmt.Sscanf(l.Mode, "%o", &f.Mode); err != nil {
					return nil, bad("mode " + l.Mode)
				}
			}
			e.files = append(e.files, f)
			out[l.Env] = e
		}
	}
	return out, sc.Err()
}

// checkLock compares p with its spec's lock file, if there is one. A
// difference is refused (exit status 2) with a report, file by file,
// unless update is set: the lock is then rewritten with the state of now.
// all says p holds every environment of the spec (else environments of
// the lock that p lacks are not compared, and are kept on update).
func checkLock(p *planner.Plan, idx *planner.Index, all, update bool, ios ioSet) error {
	name, shown := lockFile(p)
	locked, err := readLock(name, shown)
	if err != nil || (locked == nil && !update) {
		return err
	}
	var report []string
	now := map[string]lockedEnv{}
	for _, e := range p.Environments {
		r, _ := rootfsOf(e)
		l, ok := locked[e.Name]
		switch {
		case !ok:
			report = append(report, fmt.Sprintf("  %s: not in the lock", e.Name))
		case l.kind != r.Type:
			report = append(report, fmt.Sprintf("  %s: rootfs %s (locked) -> %s (now)", e.Name, l.kind, r.Type))
		case r.Type == "dir" || l.digest == r.Digest:
			continue
		default:
			// The digests differ: now the files are worth listing.
			state, err := lockState(&planner.Plan{Environments: []planner.Env{e}})
			if err != nil {
				return err
			}
			now[e.Name] = state[e.Name]
			report = append(report, fmt.Sprintf("  %s: rootfs %s %s (locked) -> %s (now)", e.Name, r.Type, l.digest, r.Digest))
			report = append(report, diffFiles(e.Name, r, l.files, state[e.Name].files, idx)...)
		}
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
	if len(report) == 0 && locked != nil {
		return nil
	}
	if !update {
		const max = 60
		if len(report) > max {
			report = append(report[:max], fmt.Sprintf("  … and %d more", len(report)-max))
		}
		return invalidError{fmt.Errorf("%s: refused: the rootfs differs from the lock (nsup plan --update-lock or nsup lock accepts it):\n%s", shown, strings.Join(report, "\n"))}
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
	if err := writeFileAtomic(name, encodeLock(state)); err != nil {
		return err
	}
	fmt.Fprintf(ios.stderr, "nsup: %s updated:\n%s\n", shown, strings.Join(report, "\n"))
	return nil
}

// diffFiles reports, one line per path, how the files of an environment's
// rootfs differ from the locked ones, and for a closure which of its paths
// needs each file that is new or changed.
func diffFiles(env string, r planner.Rootfs, old, cur []planner.File, idx *planner.Index) []string {
	var from map[string][]string
	if r.Type == "closure" {
		// Only when something differs: it resolves the closure again,
		// noting which requested path needs what.
		_, from, _ = planner.ClosureData(r.Sources, r.Data, idx)
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
