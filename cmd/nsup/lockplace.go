package main

// Where the spec's folder is, and the lock's paths of a closure's files
// in any clone of it (see lock.go's comment).

import (
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/planner"
)

// specPlace is where the spec's folder is on this host: its absolute path
// as the spec was named, and its real path (no symlink in it), which a
// closure's tree holds its files at. Both are "" when the plan does not
// say (nothing is then relative).
type specPlace struct{ named, real string }

func placeOf(p *planner.Plan) specPlace {
	if p.SpecPath == "" {
		return specPlace{}
	}
	named := filepath.Dir(p.SpecPath)
	real, err := filepath.EvalSymlinks(named)
	if err != nil {
		real = named
	}
	if real == "/" {
		// A spec in / : every path is relative to it already.
		return specPlace{}
	}
	return specPlace{named: named, real: real}
}

// key is the lock's path of the tree path p: relative to the spec's
// folder ("." or "./…") when p is in it, else p.
func (sp specPlace) key(p string) string {
	if sp.real != "" && (p == sp.real || strings.HasPrefix(p, sp.real+"/")) {
		return "." + p[len(sp.real):]
	}
	return p
}

// closure is a closure's files (and their digest) as the lock records
// them: each keyed by sp.key; the folders and symlinks on the way to the
// spec's folder left out, unless the environment needs them otherwise (a
// mount target or working folder of e, or a file of the tree outside the
// spec's folder below them: see portable); a symlink's mode 0777, as
// Linux has it.
// The digest is planner.TreeDigest of these files: r's own when they are
// r's files.
func (sp specPlace) closure(r planner.Rootfs, e planner.Env) ([]planner.File, string) {
	files, changed := sp.portable(r.Files, inTreePaths(e))
	if !changed {
		return files, r.Digest
	}
	return files, planner.TreeDigest(files)
}

// portable is files keyed as the lock records them (see closure), needed
// the paths inside the environment it needs besides its files; changed
// says whether the result differs from files (else it is files).
//
// A folder on the way to the spec's folder that the environment needs
// only as a mount target or working folder (or on the way to one) is
// recorded as the folder nsup makes for one where the host has none
// (0755): its host's mode is the clone's place's (a clone in /tmp has
// /tmp 1777 in its tree, one in /home a /tmp nsup made), and under a
// mount it is not seen. One a file of the tree outside the spec's folder
// is in (/usr for /usr/bin/sh, with the spec in /usr/src/app) is the
// host's in every clone: locked as it is.
func (sp specPlace) portable(files []planner.File, needed []string) ([]planner.File, bool) {
	on := sp.onTheWay()
	changed := false
	for _, f := range files {
		if on[f.Path] || sp.key(f.Path) != f.Path || (f.Type == "symlink" && f.Mode != 0o777) {
			changed = true
			break
		}
	}
	if !changed {
		return files, false
	}
	// The folders the environment needs for its mounts and working
	// folders: nsup makes those the host lacks, as it makes them in
	// another clone.
	forMounts := map[string]bool{}
	for _, n := range needed {
		for d := filepath.Clean(n); d != "/" && d != "."; d = filepath.Dir(d) {
			forMounts[d] = true
		}
	}
	// A file of the tree outside the spec's folder (not one made for a
	// mount) keeps the folders above it as the host has them.
	for _, f := range files {
		if !on[f.Path] && !forMounts[f.Path] && sp.key(f.Path) == f.Path {
			for d := filepath.Dir(f.Path); d != "/"; d = filepath.Dir(d) {
				delete(on, d)
			}
		}
	}
	made := map[string]bool{}
	for d := range forMounts {
		if on[d] {
			delete(on, d)
			made[d] = true
		}
	}
	out := make([]planner.File, 0, len(files))
	for _, f := range files {
		if on[f.Path] {
			continue
		}
		if made[f.Path] && f.Type == "dir" {
			f.Mode = 0o755
		}
		f.Path = sp.key(f.Path)
		if f.Type == "symlink" {
			f.Mode = 0o777
		}
		out = append(out, f)
	}
	return out, true
}

// onTheWay is the set of paths on the way to the spec's folder: the
// folders above its real path, and, when it was named through a symlink,
// the named path and the folders above it (the symlinks among them).
func (sp specPlace) onTheWay() map[string]bool {
	on := map[string]bool{}
	if sp.real == "" {
		return on
	}
	for d := filepath.Dir(sp.real); d != "/"; d = filepath.Dir(d) {
		on[d] = true
	}
	if sp.named != sp.real {
		for d := sp.named; d != "/"; d = filepath.Dir(d) {
			on[d] = true
		}
	}
	return on
}

// inTreePaths are the paths of e's root tree its steps need besides the
// files: where it mounts (a closure tree holds every mount target and
// working folder), and its processes' working folders.
func inTreePaths(e planner.Env) []string {
	var out []string
	for _, st := range e.Steps {
		switch op := st.Op.(type) {
		case planner.Mount:
			if op.InRoot {
				out = append(out, op.Target)
			}
		case planner.Chdir:
			if st.Stage == planner.Proc {
				out = append(out, op.Path)
			}
		}
	}
	return out
}
