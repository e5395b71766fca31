package planner

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestVolumeBarsOthers (helper-107's review): root inside writes a named
// volume as the host's root, or with idmap as the uid root inside maps
// to, and a setuid program it left there ran as that uid for any host
// user who could reach the folder (with idmap, it then signalled the
// processes of another environment of the same maps). A volume whose
// every folder on the way is searchable by others is refused when nsup
// runs as root; a folder that bars others (0700, or 0710 with the mapped
// root's group, as Docker's data directory is since CVE-2021-41091), one
// apply will make (0700), a read-only mount and rootless nsup plan.
func TestVolumeBarsOthers(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs/bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "rootfs/data"), 0o755) // the target (targetMakeable)
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	vols := "/srv/vols"
	const idmap = "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]"
	plan := func(caller Caller, modes map[string]uint32, ns, opts string) error {
		text := "version: 1\nname: proj\nvolumes:\n  data: {}\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [" + ns + "]\n    mounts:\n      - {type: volume, source: data, target: /data" + opts + "}\n    processes: [{name: main, command: [/bin/sh]}]\n"
		if strings.Contains(ns, "user") && caller.Privileged {
			text = strings.Replace(text, "    mounts:", strings.TrimPrefix(idmap, "\n")+"\n    mounts:", 1)
		}
		file := filepath.Join(dir, "nsup.yaml")
		s, err := spec.ParseBytes(file, dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		stat := func(p string) (uid, gid, mode uint32, err error) {
			m, ok := modes[p]
			if !ok {
				if strings.HasPrefix(p, vols) {
					return 0, 0, 0, fs.ErrNotExist
				}
				m = 0o755
			}
			return 0, 100000, 0o40000 | m, nil
		}
		_, err = Compile(s, fixedOptions(Options{VolumeDir: vols, Project: "proj", Caller: &caller, FolderStat: stat, StateDir: filepath.Join(dir, "state"), CacheDir: filepath.Join(dir, "cache")}))
		return err
	}
	// At the mount's source, which names the volume.
	reached := ":32: environments.a.mounts[0].source: volume data's folder /srv/vols/proj/data can be reached by every host user"
	open := map[string]uint32{vols: 0o755, vols + "/proj": 0o711}
	rootless := Caller{UID: 1000, GID: 1000, HardLimits: fixedLimits}
	for _, c := range []struct {
		name   string
		caller Caller
		modes  map[string]uint32
		ns     string
		opts   string
		want   string // "" plans
	}{
		{"every folder searchable", rootCaller, open, "mnt, pid", "", reached + " (each folder on its way is searchable by others): root inside writes it as the host's root"},
		{"idmap", rootCaller, open, "user, mnt, pid", "", reached + " (each folder on its way is searchable by others): root inside writes it as host uid 100000"},
		{"the project's folder 0710", rootCaller, map[string]uint32{vols: 0o755, vols + "/proj": 0o710}, "mnt, pid", "", ""},
		{"idmap, the project's folder 0710, its group the mapped root's", rootCaller, map[string]uint32{vols: 0o755, vols + "/proj": 0o710}, "user, mnt, pid", "", ""},
		{"the volumes' folder made by apply", rootCaller, map[string]uint32{}, "mnt, pid", "", ""},
		{"read-only", rootCaller, open, "mnt, pid", ", readonly: true", ""},
		// Read-only by a flag root inside lifts (helper-124's review).
		{"idmap, read-only, SYS_ADMIN", rootCaller, open, "user, mnt, pid", ", readonly: true}\n    security: {capabilities: {add: [SYS_ADMIN]}", reached + " (each folder on its way is searchable by others): root inside writes it as host uid 100000"},
		{"idmap, read-only", rootCaller, open, "user, mnt, pid", ", readonly: true", ""},
		{"rootless", rootless, open, "user, mnt, pid", "", ""},
	} {
		err := plan(c.caller, c.modes, c.ns, c.opts)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want refused: %q", c.name, err, c.want)
		}
	}
}
