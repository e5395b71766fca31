package planner

// Closures by Debian package (closure.packages): a package's files as the
// host's dpkg database lists them (info/NAME.list), its Depends and
// Pre-Depends followed through the installed packages (Provides too),
// the first installed alternative of each "a | b" taken and said.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dpkgDir is the dpkg database packages are read from.
var dpkgDir = "/var/lib/dpkg"

// dpkgPkg is one installed package of the status file.
type dpkgPkg struct {
	name, arch, multiArch string
	depends               []string // Pre-Depends then Depends, clause by clause
}

// dpkgDB is the installed packages, by name, and the virtual packages
// they provide.
type dpkgDB struct {
	pkgs     map[string][]*dpkgPkg
	provides map[string][]*dpkgPkg
	diverted map[string]string // a path diverted to another, with the package it is not diverted for
	divOwner map[string]string
}

// readDpkg reads dir's status and diversions.
func readDpkg(dir string) (*dpkgDB, error) {
	f, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	db := &dpkgDB{pkgs: map[string][]*dpkgPkg{}, provides: map[string][]*dpkgPkg{}, diverted: map[string]string{}, divOwner: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	fields := map[string]string{}
	var last string
	flush := func() {
		defer func() { fields = map[string]string{} }()
		st := strings.Fields(fields["Status"])
		if fields["Package"] == "" || len(st) != 3 || (st[2] != "installed" && st[2] != "triggers-pending" && st[2] != "triggers-awaited") {
			return
		}
		p := &dpkgPkg{name: fields["Package"], arch: fields["Architecture"], multiArch: fields["Multi-Arch"]}
		for _, k := range []string{"Pre-Depends", "Depends"} {
			for _, c := range strings.Split(fields[k], ",") {
				if c = strings.TrimSpace(c); c != "" {
					p.depends = append(p.depends, c)
				}
			}
		}
		db.pkgs[p.name] = append(db.pkgs[p.name], p)
		for _, v := range strings.Split(fields["Provides"], ",") {
			if v = depName(v); v != "" {
				db.provides[v] = append(db.provides[v], p)
			}
		}
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			fields[last] += "\n" + line
		default:
			k, v, _ := strings.Cut(line, ":")
			last = k
			fields[k] = strings.TrimSpace(v)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// diversions: triplets of lines (from, to, package).
	if b, err := os.ReadFile(filepath.Join(dir, "diversions")); err == nil {
		l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		for i := 0; i+2 < len(l); i += 3 {
			db.diverted[l[i]], db.divOwner[l[i]] = l[i+1], l[i+2]
		}
	}
	return db, nil
}

// depName is the package name of one alternative of a dependency:
// "libc6:any (>= 2.34)" is libc6.
func depName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " (["); i >= 0 {
		s = s[:i]
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// find is the installed package named name (or providing it), of arch
// or "all" first.
func (db *dpkgDB) find(name, arch string) *dpkgPkg {
	for _, l := range [][]*dpkgPkg{db.pkgs[name], db.provides[name]} {
		var best *dpkgPkg
		for _, p := range l {
			switch {
			case p.arch == arch || arch == "":
				return p
			case best == nil || p.arch == "all":
				best = p
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// listFile is the info/*.list of p.
func (db *dpkgDB) listFile(dir string, p *dpkgPkg) string {
	if p.multiArch == "same" {
		if f := filepath.Join(dir, "info", p.name+":"+p.arch+".list"); fileExists(f) {
			return f
		}
	}
	return filepath.Join(dir, "info", p.name+".list")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// packageFiles resolves closure.packages into host files (no folder: a
// folder would be copied whole, other packages' files with it) and the
// notes of what was chosen.
func (ec *envCompiler) packageFiles(pkgs []string, field string) []string {
	db, err := readDpkg(dpkgDir)
	if err != nil {
		ec.errorf(ec.e.Rootfs.PackagesPos, field, "this host has no dpkg database to read packages from (%v): packages are Debian's (and its derivatives'); name the files in closure.files instead", unwrapPath(err))
		return nil
	}
	seen := map[*dpkgPkg]bool{}
	var order []*dpkgPkg
	var queue []*dpkgPkg
	var chosen []string
	for i, name := range pkgs {
		n, arch, _ := strings.Cut(name, ":")
		p := db.find(n, arch)
		if p == nil {
			ec.errorf(ec.e.Rootfs.Packages[i].Pos, fmt.Sprintf("%s[%d]", field, i), "package %s is not installed on this host (dpkg -l %s): install it, or name its files in closure.files", name, n)
			continue
		}
		if !seen[p] {
			seen[p] = true
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		order = append(order, p)
		for _, clause := range p.depends {
			alts := strings.Split(clause, "|")
			var dep *dpkgPkg
			for _, a := range alts {
				if dep = db.find(depName(a), p.arch); dep != nil {
					break
				}
			}
			if dep == nil {
				ec.errorf(ec.e.Rootfs.PackagesPos, field, "package %s depends on %s, which is not installed on this host (its files cannot be added)", p.name, strings.TrimSpace(clause))
				continue
			}
			if len(alts) > 1 {
				chosen = append(chosen, fmt.Sprintf("%s: %q, %s (installed)", p.name, strings.TrimSpace(clause), dep.name))
			}
			if !seen[dep] {
				seen[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	var files, private []string
	added := map[string]bool{}
	for _, p := range order {
		b, err := os.ReadFile(db.listFile(dpkgDir, p))
		if err != nil {
			continue // a package without files (a metapackage)
		}
		for _, f := range strings.Split(string(b), "\n") {
			if f == "" || f == "/." {
				continue
			}
			// A path another package diverted: this package's file is
			// at the diversion's target.
			if to, ok := db.diverted[f]; ok && db.divOwner[f] != p.name {
				f = to
			}
			// A folder, or a link to one (/lib -> usr/lib), is not
			// named: the files below it are, and their folders and links
			// come with them.
			fi, err := os.Stat(f)
			if err != nil || fi.IsDir() || added[f] {
				continue // excluded at install (path-exclude), removed, or a folder
			}
			added[f] = true
			if fi.Mode().Perm()&0o004 == 0 {
				// Not everyone's to read (a conffile an admin put a
				// secret in: /etc/ppp/chap-secrets): not copied unless
				// closure.files names it.
				private = append(private, f)
				continue
			}
			files = append(files, f)
		}
	}
	sort.Strings(files)
	var names []string
	for _, p := range order {
		names = append(names, p.name)
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s: %d packages from this host's dpkg database, Depends and Pre-Depends followed (versions are what is installed): %s", field, len(order), strings.Join(names, ", ")))
	if len(private) > 0 {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: not copied, as not everyone may read them on the host (name them in closure.files if the environment needs them): %s", field, strings.Join(private, ", ")))
	}
	if len(chosen) > 0 {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: alternatives, the first installed taken: %s", field, strings.Join(chosen, "; ")))
	}
	return files
}
