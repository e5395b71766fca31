package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestVolumeExposesRefused (helper-65's review): a writable volume is a
// writable bind of its folder, but protectSpecFiles and cacheInside left
// volumes out: a spec kept in a volume's folder (the project reached
// through a link to it), or below it, was planned with the volume
// writable and nothing over the spec (TestRootSpecInVolumeRefused: root
// inside appended to it), and so were nsup's cache and state directory
// in a volume's folder (NSUP_VOLUME_DIR, NSUP_CACHE_DIR, NSUP_STATE_DIR
// so set). Refused now; a read-only volume, and one that holds none of
// them, plan.
func TestVolumeExposesRefused(t *testing.T) {
	dir := t.TempDir()
	vols := filepath.Join(dir, "volumes")
	vol := VolumePath(vols, "proj", "src")
	for _, d := range []string{dir + "/rootfs/bin", dir + "/elsewhere", vol + "/sub"} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.Symlink(vol, filepath.Join(dir, "proj"))
	compile := func(at, opts string, o Options) error {
		text := "version: 1\nname: proj\nvolumes:\n  src: {}\nenvironments:\n  a:\n    rootfs: {dir: " + dir + "/rootfs}\n    namespaces: [mnt, pid]\n    mounts:\n      - {type: volume, source: src, target: /src" + opts + "}\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(at, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		defer os.Remove(file)
		s, err := spec.ParseBytes(file, at, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o.VolumeDir, o.Caller, o.FolderStat = vols, &rootCaller, folderStat
		if o.StateDir == "" {
			o.StateDir = filepath.Join(dir, "state")
		}
		if o.CacheDir == "" {
			o.CacheDir = filepath.Join(dir, "cache")
		}
		_, err = Compile(s, fixedOptions(o))
		return err
	}
	for _, c := range []struct {
		name, at, opts string
		o              Options
		want           string // "" plans
	}{
		{"spec in the volume", vol, "", Options{}, filepath.Join(vol, "nsup.yaml") + ", which nsup reads to plan this spec, is in this volume's folder"},
		{"through a link", filepath.Join(dir, "proj"), "", Options{}, filepath.Join(vol, "nsup.yaml") + ", which nsup reads to plan this spec, is in this volume's folder"},
		{"below it", filepath.Join(vol, "sub"), "", Options{}, filepath.Join(vol, "sub/nsup.yaml") + ", which nsup reads to plan this spec, is in this volume's folder"},
		{"cache", filepath.Join(dir, "elsewhere"), "", Options{CacheDir: filepath.Join(vol, "cache")}, "holds nsup's cache " + filepath.Join(vol, "cache")},
		{"state", filepath.Join(dir, "elsewhere"), "", Options{StateDir: filepath.Join(vol, "run")}, "holds nsup's state directory " + filepath.Join(vol, "run")},
		{"read-only", vol, ", readonly: true", Options{CacheDir: filepath.Join(vol, "cache")}, ""},
		{"elsewhere", filepath.Join(dir, "elsewhere"), "", Options{}, ""},
	} {
		err := compile(c.at, c.opts, c.o)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want refused: %q", c.name, err, c.want)
		}
	}
	// A spec with another name (a hard link) on the volume's filesystem:
	// where that name is is not known without a walk.
	spec2 := filepath.Join(dir, "elsewhere", "nsup.yaml")
	os.WriteFile(spec2, nil, 0o644)
	os.Link(spec2, filepath.Join(dir, "elsewhere", "backup.yaml"))
	text := "version: 1\nname: proj\nvolumes:\n  src: {}\nenvironments:\n  a:\n    rootfs: {dir: " + dir + "/rootfs}\n    namespaces: [mnt, pid]\n    mounts: [{type: volume, source: src, target: /src}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	os.WriteFile(spec2, []byte(text), 0o644)
	s, err := spec.ParseBytes(spec2, filepath.Dir(spec2), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, fixedOptions(Options{FolderStat: folderStat, VolumeDir: vols, Caller: &rootCaller, CacheDir: filepath.Join(dir, "cache"), StateDir: filepath.Join(dir, "state")}))
	if err == nil || !strings.Contains(err.Error(), "has more than one name") {
		t.Errorf("a spec with two names on the volume's filesystem: %v, want refused", err)
	}
}

// TestVolumeShowsSpecByAlias: a volume's folder whose filesystem shows
// the spec's folder by another path (a host mount of the volume's
// subfolder where the project is, found by mountinfo's major:minor and
// root, shownBelow) is refused as the volume holding it is.
func TestVolumeShowsSpecByAlias(t *testing.T) {
	dir := t.TempDir()
	vols := filepath.Join(dir, "volumes")
	vol, proj := VolumePath(vols, "proj", "src"), filepath.Join(dir, "proj")
	for _, d := range []string{dir + "/rootfs/bin", vol + "/shown", proj} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// The test data's mount that holds dir, and the volume's subfolder of
	// its filesystem mounted at proj.
	dev, root, point := "", "", ""
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && within(dir, f[4]) && len(f[4]) >= len(point) {
			dev, root, point = f[2], f[3], f[4]
		}
	}
	if point == "" {
		t.Fatalf("no mount of the test data holds %s", dir)
	}
	shown := filepath.Join(root, strings.TrimPrefix(vol+"/shown", strings.TrimSuffix(point, "/")))
	mi = append(mi, "998 1 "+dev+" "+shown+" "+proj+" rw,relatime - ext4 /dev/x rw\n"...)
	fsys := t.TempDir()
	cg, _ := os.ReadFile(hybrid + "/proc/self/cgroup")
	os.MkdirAll(fsys+"/proc/self", 0o755)
	os.WriteFile(fsys+"/proc/self/mountinfo", mi, 0o644)
	os.WriteFile(fsys+"/proc/self/cgroup", cg, 0o644)
	os.Symlink(hybrid+"/sys", fsys+"/sys")
	text := "version: 1\nname: proj\nvolumes:\n  src: {}\nenvironments:\n  a:\n    rootfs: {dir: " + dir + "/rootfs}\n    namespaces: [mnt, pid]\n    mounts: [{type: volume, source: src, target: /src}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	file := filepath.Join(proj, "nsup.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	s, err := spec.ParseBytes(file, proj, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{FolderStat: folderStat, VolumeDir: vols, Caller: &rootCaller, CacheDir: filepath.Join(dir, "cache"), StateDir: filepath.Join(dir, "state")})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
	_, err = Compile(s, o)
	if want := file + ", which nsup reads to plan this spec, is in this volume's folder " + vol + " (shown at " + vol + "/shown/nsup.yaml)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v, want refused: %q", err, want)
	}
}
