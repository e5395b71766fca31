package planner

// The environment's /etc/passwd and /etc/group when its rootfs lacks them,
// or lacks a process's user: generated (root, each process's user, and
// nobody), put read-only over the rootfs's files (EtcFile) as resolv.conf
// and hosts are, the rootfs untouched. And each process's HOME, when the
// spec sets none, from that file.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
	"github.com/nsup/nsup/spec"
)

// identityFiles are the files identity generates.
var identityFiles = []string{"/etc/passwd", "/etc/group"}

// nobody is the overflow id's entry of every generated file.
const nobody = 65534

// identity is what the environment's processes are, by their ids: names
// and homes as the rootfs's own files give them (through its mounts), and
// the lines nsup adds to those files for ids they lack.
type identity struct {
	// have is the rootfs's own file by path ("" when it has none);
	// exists says whether it is there at all.
	have   map[string]string
	exists map[string]bool
	// add are the lines added, by path.
	add map[string][]string
	// home is each uid's home.
	home map[uint32]string
	// unreadable are the rootfs's files nsup could not read whole: not
	// covered.
	unreadable []string
	// inTree are the files put into nsup's own tree (identityInTree).
	inTree map[string]bool
}

// processIDs are the uids and gids of the environment's processes, in
// order, without repeats, and each uid's first gid.
func (ec *envCompiler) processIDs() (uids, gids []uint32, primary map[uint32]uint32) {
	primary = map[uint32]uint32{}
	add := func(u, g uint32) {
		if !slices.Contains(uids, u) {
			uids = append(uids, u)
			primary[u] = g
		}
		if !slices.Contains(gids, g) {
			gids = append(gids, g)
		}
	}
	var eu, eg uint32
	if u := ec.e.User; u != nil {
		eu, eg = u.UID, u.GID
	}
	walkProcs(ec.e.Process, func(p *spec.Process, _ string) {
		if u := p.User; u != nil {
			add(u.UID, u.GID)
		} else {
			add(eu, eg)
		}
	})
	return uids, gids, primary
}

// identityOf works out the environment's identity once: nil when its
// tree is not known at plan time (a joined mount namespace, a tar root
// whose archive the walk refuses). A tar root's tree is what its archive
// was found to have on the way to the files read (taridentity.go).
func (ec *envCompiler) identityOf() *identity {
	if ec.ident != nil || !ec.isNew(spec.NSMount) {
		return ec.ident
	}
	base := ec.baseView()
	if ec.tarID != nil {
		base = ec.tarID.view()
	}
	if base == nil {
		return nil
	}
	t, _ := mountedView(base, ec.viewMounts(), &ec.stats)
	id := &identity{have: map[string]string{}, exists: map[string]bool{}, add: map[string][]string{}, home: map[uint32]string{}, inTree: map[string]bool{}}
	for _, p := range identityFiles {
		real := resolvedPath(t, p)
		if f, ok := resolveIn(t, p); ok && f.Type == "file" {
			content, err := ec.readInTree(real)
			if err != nil {
				// Left as it is: nsup puts nothing over a file it could
				// not read whole.
				ec.notes = append(ec.notes, fmt.Sprintf("%s not generated: the rootfs's own could not be read (%v)", p, err))
				id.unreadable = append(id.unreadable, p)
				continue
			}
			id.exists[p] = true
			id.have[p] = content
		}
	}
	uids, gids, primary := ec.processIDs()
	pw := parseIDFile(id.have["/etc/passwd"])
	gr := parseIDFile(id.have["/etc/group"])
	shell := "/bin/sh"
	if f, ok := resolveIn(t, shell); !ok || f.Type != "file" {
		shell = "/nonexistent"
	}
	for _, u := range append(slices.Clone(uids), 0, nobody) {
		if e, ok := pw[u]; ok {
			id.home[u] = e.home
			continue
		}
		name, home, sh := ec.idName(u, "/etc/passwd"), "/", shell
		gid := u
		switch u {
		case 0:
			home = "/root"
		case nobody:
			home, sh = "/nonexistent", "/nonexistent"
		}
		if g, ok := primary[u]; ok && u != 0 && u != nobody {
			gid = g
		}
		id.home[u] = home
		id.add["/etc/passwd"] = append(id.add["/etc/passwd"], fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", name, u, gid, name, home, sh))
		pw[u] = idEntry{name: name, home: home}
	}
	for _, g := range append(slices.Clone(gids), 0, nobody) {
		if _, ok := gr[g]; ok {
			continue
		}
		name := ec.idName(g, "/etc/group")
		if g == nobody {
			name = "nogroup"
		}
		id.add["/etc/group"] = append(id.add["/etc/group"], fmt.Sprintf("%s:x:%d:", name, g))
		gr[g] = idEntry{name: name}
	}
	ec.ident = id
	return id
}

// maxIDFile bounds what is read of a rootfs's passwd or group.
const maxIDFile = 1 << 20

// readInTree reads a file of the tree the plan knows, at p (its links
// resolved in the tree): below the dir root, or a bound folder, opened
// through that folder (os.Root: nothing out of it, whatever is swapped in
// meanwhile), and read through the same fd if it is a regular file of at
// most maxIDFile bytes. A closure's file is
// the host's own, named by the spec (its empty placeholder is ""); a tar
// root's, what the archive was found to hold (tarIDRecord.read).
func (ec *envCompiler) readInTree(p string) (string, error) {
	dir, rel := "/", p
	var tar *tarIDRecord
	switch {
	case ec.tree != nil:
		if f, ok := ec.tree[p]; ok && f.Source == "" && f.Digest == EmptyDigest {
			return "", nil
		}
		if f, ok := ec.tree[p]; ok && f.Source != "" {
			rel = f.Source
		}
	case ec.tarID != nil:
		tar = ec.tarID
	default:
		dir = ec.root
	}
	for _, m := range ec.viewMounts() {
		if m.source != "" && within(p, m.target) {
			tar = nil
			if m.isDir {
				dir, rel = m.source, strings.TrimPrefix(p, m.target)
			} else {
				dir, rel = path.Dir(m.source), path.Base(m.source)
			}
		}
	}
	if tar != nil {
		return tar.read(p)
	}
	return readBelow(dir, rel)
}

// readBelow reads rel below dir, never out of it (a link that leads out
// is refused, whenever it was put there), a regular file of at most
// maxIDFile bytes (regfile: a FIFO or a device put there is never
// opened).
func readBelow(dir, rel string) (string, error) {
	b, err := regfile.ReadBeneath(dir, strings.TrimPrefix(rel, "/"), maxIDFile)
	return string(b), err
}

type idEntry struct{ name, home string }

// parseIDFile reads passwd or group lines: name:x:ID:... by ID (the
// first of an ID wins, as getpwuid(3) finds it).
func parseIDFile(s string) map[uint32]idEntry {
	out := map[uint32]idEntry{}
	for line := range strings.Lines(s) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		f := strings.Split(line, ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, ok := out[uint32(id)]; ok {
			continue
		}
		e := idEntry{name: f[0]}
		if len(f) >= 6 {
			e.home = f[5]
		}
		out[uint32(id)] = e
	}
	return out
}

// idName names an id nsup adds: root for 0, nobody for the overflow id,
// the host's name for it when the host's file has one, else "user" (or
// "group") and the id.
var idName = func(id uint32, file string) string {
	switch id {
	case 0:
		return "root"
	case nobody:
		return "nobody"
	}
	b, _ := os.ReadFile(file)
	if e, ok := parseIDFile(string(b))[id]; ok && validIDName(e.name) {
		return e.name
	}
	if file == "/etc/group" {
		return fmt.Sprintf("group%d", id)
	}
	return fmt.Sprintf("user%d", id)
}

// idName is the package's idName, or with Options.PortableIDs only the
// names that read no host file (an image's: the same on every host).
func (ec *envCompiler) idName(id uint32, file string) string {
	if ec.opts.PortableIDs && id != 0 && id != nobody {
		if file == "/etc/group" {
			return fmt.Sprintf("group%d", id)
		}
		return fmt.Sprintf("user%d", id)
	}
	return idName(id, file)
}

func validIDName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// identityInTree puts the generated files into a tree of nsup's own
// (closure, host): files of the tree, with their content, where the tree
// has none or a file of the host's, so that apply has nothing to mount
// for them. A link there is left to identitySteps.
func (ec *envCompiler) identityInTree() {
	if ec.tree == nil || !ec.isNew(spec.NSMount) {
		return
	}
	id := ec.identityOf()
	if id == nil {
		return
	}
	for _, p := range identityFiles {
		if len(id.add[p]) == 0 || ec.mountedAt(p) || slices.Contains(id.unreadable, p) {
			continue
		}
		if f, ok := ec.tree[p]; ok && f.Type != "file" {
			continue // a link: what it leads to is covered (identitySteps)
		}
		ec.mkdirTree(path.Dir(p))
		if d, ok := ec.tree[path.Dir(p)]; ok && d.Type == "dir" {
			content := id.content(p)
			sum := sha256.Sum256([]byte(content))
			ec.tree[p] = File{Path: p, Type: "file", Mode: 0o644, Content: content, Size: int64(len(content)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
			id.inTree[p] = true
			ec.notes = append(ec.notes, fmt.Sprintf("%s: %s added (the rootfs's own lacks them), in nsup's tree", p, strings.Join(firstFields(id.add[p]), ", ")))
		}
	}
}

// content is the file p as generated: the rootfs's own, then the lines
// added.
func (id *identity) content(p string) string {
	var b strings.Builder
	b.WriteString(id.have[p])
	if b.Len() > 0 && !strings.HasSuffix(id.have[p], "\n") {
		b.WriteByte('\n')
	}
	for _, l := range id.add[p] {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// identitySteps puts the generated files over the rootfs's (EtcFile),
// read-only, where they are not in nsup's tree: a dir root's own.
func (ec *envCompiler) identitySteps() {
	id := ec.identityOf()
	if id == nil {
		return
	}
	for _, p := range identityFiles {
		if len(id.add[p]) == 0 || id.inTree[p] || ec.mountedAt(p) || slices.Contains(id.unreadable, p) {
			continue
		}
		if !id.exists[p] {
			ec.notes = append(ec.notes, fmt.Sprintf("%s not generated: the rootfs has no file there to put it over (nsup does not write the rootfs): make an empty one", p))
			continue
		}
		ec.add(Child, ec.e.Pos, EtcFile{Target: p, Root: ec.root, Content: id.content(p)})
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %s added (the rootfs's own lacks them)", p, strings.Join(firstFields(id.add[p]), ", ")))
	}
}

func firstFields(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i], _, _ = strings.Cut(l, ":")
	}
	return out
}
