package planner

// Named volumes (mounts of type volume: a folder of the project's, made on
// first use, kept across down) and binds that make their source (create:
// true): both are binds once their folder is planned.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// DefaultVolumeDir is where named volumes live, a folder per project:
// $NSUP_VOLUME_DIR if set, /var/lib/nsup/volumes for root, else
// $XDG_DATA_HOME/nsup/volumes (~/.local/share/nsup/volumes). Unlike the
// state directory (/run), it outlives a reboot.
func DefaultVolumeDir() string {
	if d := os.Getenv("NSUP_VOLUME_DIR"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/nsup/volumes"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nsup", "volumes")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "nsup", "volumes")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nsup-volumes-%d", os.Geteuid()))
}

// VolumePath is the folder of volume name of project, under dir
// (DefaultVolumeDir).
func VolumePath(dir, project, name string) string { return filepath.Join(dir, project, name) }

// VolumeLockPath is the lock file of volume name of project, beside its
// folder (never inside it: the environment sees the folder): NAME.lock,
// which no volume name is (no dot in one).
func VolumeLockPath(dir, project, name string) string {
	return filepath.Join(dir, project, name+".lock")
}

// usesVolumes says whether an environment of s mounts a named volume: its
// plan then needs the project, foreground or not.
func usesVolumes(s *spec.Spec) bool {
	for _, e := range s.Environments {
		for _, m := range e.Mounts {
			if m.Type == spec.MountVolume {
				return true
			}
		}
	}
	return false
}

// volumes plans the folders of the environment's volumes and of its binds
// with create: true (host steps, before anything is mounted), and makes
// each such mount a bind of its folder for the rest of the plan.
func (ec *envCompiler) volumes() {
	e := ec.e
	if !slices.ContainsFunc(e.Mounts, func(m spec.Mount) bool { return m.Type == spec.MountVolume || m.Create }) {
		return
	}
	c := ec.compiler
	ne := *e
	ne.Mounts = slices.Clone(e.Mounts)
	planned, made := map[string]bool{}, map[string]bool{}
	for i, m := range ne.Mounts {
		field := ec.mountField(i)
		switch {
		case m.Type == spec.MountVolume:
			v := c.s.Volume(m.Source)
			if v == nil {
				continue // the spec said so
			}
			p := VolumePath(c.volumeDir, c.project, v.Name)
			if !planned[p] {
				planned[p] = true
				uid, gid, ok := ec.volumeOwner(v, field)
				if !ok {
					continue
				}
				made[p] = true
				ec.add(Host, m.Pos, Volume{Name: v.Name, Path: p, Lock: VolumeLockPath(c.volumeDir, c.project, v.Name), Mode: parseMode(v.Mode), UID: uid, GID: gid})
				ec.notes = append(ec.notes, fmt.Sprintf("%s: volume %s is %s: made if missing, kept across nsup down (nsup volume rm, nsup down --volumes)", field, v.Name, p))
			}
			// Its folder's errors at the source, which names it.
			if made[p] && !ec.hostTree(m.Pos, p, false, "volume "+v.Name) {
				ec.childReaches(m.SourceAt(), field+".source", "volume "+v.Name+"'s folder", p, ec.volumeReachFix())
			}
			ec.markMade(p, "volume")
			if !m.Readonly {
				ec.volumeExposes(field+".source", m.SourceAt(), p)
				ec.volumeBarsOthers(m.SourceAt(), field+".source", v.Name, p)
			}
			ne.Mounts[i].Type, ne.Mounts[i].Source, ne.Mounts[i].Recursive = spec.MountBind, p, false
		case m.Type == spec.MountBind && m.Create:
			if link, to := linkOnWay(m.Source); link != "" {
				// Apply makes the folder, and binds it, through no
				// symlink (RESOLVE_NO_SYMLINKS): said here, not
				// planned for apply to refuse.
				ec.errorf(m.SourceAt(), field+".source", "%s is a symlink (to %q) on the way to %s, which apply makes and binds through no symlink: name the folder where it leads", link, to, m.Source)
			}
			if !planned[m.Source] {
				planned[m.Source] = true
				ec.add(Host, m.Pos, MkdirAll{Path: m.Source, Mode: 0o755})
			}
			ec.markMade(m.Source, "create")
		}
	}
	ec.e = &ne
}

// volumeExposes refuses a writable volume whose folder p (made at apply
// if missing) holds or shows a file nsup reads to plan the spec (the
// spec, its lock, .env, an --env-file, a seccomp profile), nsup's cache
// or its state directory, by path, by inode (a host bind or link of the
// folder) or by filesystem and folder (shownBelow). A volume is a
// writable bind of its folder, but the checks of a writable bind
// (protectSpecFiles) left volumes out, and nothing is put over a spec
// file in one: before helper-65's review a project kept in a volume's
// folder (~/proj a link to it) was planned with the volume writable, and
// root inside appended to nsup.yaml, which the next nsup run applies.
func (ec *envCompiler) volumeExposes(field string, pos spec.Pos, p string) {
	real := resolvedAbove(p)
	mounts, _ := ec.compiler.hostMounts()
	names := func(f string) uint64 {
		n, _ := otherNames(f, real, false, mounts)
		return n
	}
	for _, f := range ec.compiler.specFiles() {
		in := ""
		if holder(f, real) == "" {
			if at, via := shownVia(f, real, false, mounts); via != "" {
				in = " (on a filesystem mounted from the image file " + via + ", at " + at + " here)"
			} else if at != "" {
				in = " (shown at " + at + ")"
			}
		}
		switch {
		case holder(f, real) != "" || in != "":
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, is in this volume's folder %s%s, which the environment writes: root inside would choose what the next nsup run applies; keep the spec's files out of the volume, or %s", f, p, in, ec.readonlyWay(roMount))
		case names(f) > 0:
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, has more than one name (hard links), and this volume's folder %s, which the environment writes, is on its filesystem: root inside would write it through another name, and choose what the next nsup run applies; keep one name of it, or %s", f, p, ec.readonlyWay(roMount))
		}
	}
	ec.cacheInside(field, pos, real, false, mounts)
	state := ec.compiler.opts.StateDir
	if state == "" {
		state = DefaultStateDir()
	}
	state = resolvedAbove(state)
	at, via := shownVia(state, real, false, mounts)
	if via != "" {
		via = " (on a filesystem mounted from the image file " + via + ", at " + at + " here)"
	}
	if holder(state, real) != "" || at != "" {
		ec.errorf(pos, field, "this volume's folder %s holds nsup's state directory %s%s, which the environment writes: root inside would reach the detached environments' control sockets and rewrite their records; give nsup volumes elsewhere (NSUP_VOLUME_DIR), or %s", p, state, via, ec.readonlyWay(roMount))
	}
}

// volumeOwner is the owner a volume is made with, on the host: the
// volume's owner (ids inside the environment) through the environment's
// id maps; with none, root inside: -1 (the caller: root, or a rootless
// nsup's user, who is root inside), or, as root, the host ids an idmap
// maps root inside to (before helper-105's review the volume was the
// host root's there, which root inside, an unmapped owner to it, could
// not write: Docker's userns-remap makes its volumes the remapped root's).
func (ec *envCompiler) volumeOwner(v *spec.Volume, field string) (uid, gid int, ok bool) {
	if v.Owner == nil {
		if u, g, mapped := ec.mappedRoot(); mapped {
			return int(u), int(g), true
		}
		return -1, -1, true
	}
	at := "volumes." + v.Name + ".owner"
	u, g := int64(v.Owner.UID), int64(v.Owner.GID)
	switch {
	case ec.mapsKnown():
		u, g = outside(ec.uidMap, v.Owner.UID), outside(ec.gidMap, v.Owner.GID)
		if u < 0 || g < 0 {
			ec.errorf(v.Owner.Pos, at, "%d:%d is not mapped in environment %s's user namespace (uid_map %s, gid_map %s)", v.Owner.UID, v.Owner.GID, ec.e.Name,
				strings.TrimSpace(MapText(mapLines(ec.uidMap))), strings.TrimSpace(MapText(mapLines(ec.gidMap))))
			return 0, 0, false
		}
	case ec.joined(spec.NSUser) != nil:
		ec.errorf(v.Owner.Pos, at, "environment %s joins a user namespace, whose ids nsup does not know at plan time: give no owner (the volume is then the caller's)", ec.e.Name)
		return 0, 0, false
	}
	if !ec.caller.Privileged && (u != int64(ec.caller.UID) || g != int64(ec.caller.GID)) {
		ec.errorf(v.Owner.Pos, at, "rootless, a volume is yours (uid %d, root inside): an owner %d:%d on the host needs root (%s)", ec.caller.UID, u, g, field)
		return 0, 0, false
	}
	return int(u), int(g), true
}

// outside is the host id of id inside, through a user namespace's map;
// -1 if id is not mapped.
func outside(m []spec.IDRange, id uint32) int64 {
	for _, r := range m {
		if id >= r.Inside && id-r.Inside < r.Count {
			return int64(r.Outside) + int64(id-r.Inside)
		}
	}
	return -1
}

// parseMode reads an octal mode the spec checked.
func parseMode(s string) uint32 {
	var m uint32
	fmt.Sscanf(s, "%o", &m)
	return m
}

// markMade records a folder that apply makes before it is bound (a
// volume's, a bind's with create: true): the plan may not find it.
func (ec *envCompiler) markMade(p, why string) {
	if ec.made == nil {
		ec.made = map[string]string{}
	}
	ec.made[p] = why
}

// linkOnWay is the first symlink on the way to the host path p, and its
// target ("" if none): each folder of p that is there, and the first
// name that is not (a dangling link). Before helper-117's review a bind
// with create: true of ./cache, a link of the repository to a folder not
// there yet, planned mkdir("./cache") and a writable bind of it, which
// apply then refused.
func linkOnWay(p string) (string, string) {
	var at, to string
	walkPath(hostTree, p, walkHow{link: func(l string, f File) bool {
		at, to = l, f.Link
		return false
	}})
	return at, to
}
