package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestSpecOnLoopImage (helper-70): a filesystem mounted from an image
// file (a loop device's) is that file's bytes, under a major:minor of
// its own that mountinfo ties to no folder. With the spec on such a
// filesystem and the folder of its image file bound writable, root
// inside wrote the spec's bytes into the image (by hand, with nsup
// apply; TestRootLoopImageShowsSpec), and the spec nsup reads next
// changed. Each of these is refused now, naming the image file: the
// loop device's own (sysfs's loop/backing_file), through a partition of
// it (its whole disk's), through a device-mapper device on it (its
// slaves/), a filesystem mounted from the file without a loop device
// (the source names it), an image file shown through an overlay's
// merged folder, and another loop device of the same image (the same
// blocks); so is nsup's cache there, and its state directory with the
// image in a writable volume's folder. A read-only bind and a folder that
// leaves the image out are planned. A removed image (sysfs names it
// " (deleted)") may keep another name on its filesystem, anywhere: a
// writable bind of a folder of that filesystem is refused (the one its
// removed name was in, here: the fixture has no loop device to ask),
// one of another filesystem planned. The mountinfo and sysfs here are a fixture (devices made
// up, files the test's).
func TestSpecOnLoopImage(t *testing.T) {
	d := t.TempDir()
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	imgs, up := d+"/host/imgs", d+"/up"
	vols := d + "/volumes"
	vol := VolumePath(vols, "proj", "src")
	for _, p := range []string{imgs, up, d + "/other", d + "/work", d + "/merged", d + "/root/bin",
		vol, d + "/mntv/run", d + "/mnt/proj", d + "/mnt2/proj", d + "/mntp/proj", d + "/mntd/proj", d + "/mnte/proj", d + "/mnto/proj", d + "/mntg/proj"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	for _, f := range []string{imgs + "/disk.img", imgs + "/part.img", imgs + "/dm.img", imgs + "/e.img", up + "/o.img", vol + "/v.img"} {
		os.WriteFile(f, nil, 0o644)
	}
	// sysfs: 7:90 and 7:94 are loop devices of disk.img; 259:91 the
	// first partition of 7:91 (part.img); 253:92 a device-mapper device
	// on 7:92 (dm.img); 7:95 a loop device of up/o.img; 7:96 one of a
	// removed file.
	fsys := t.TempDir()
	for dev, f := range map[string]string{"7:90": imgs + "/disk.img", "7:94": imgs + "/disk.img", "7:92": imgs + "/dm.img", "7:95": up + "/o.img", "7:96": imgs + "/gone.img (deleted)", "7:98": vol + "/v.img"} {
		os.MkdirAll(fsys+"/sys/dev/block/"+dev+"/loop", 0o755)
		os.WriteFile(fsys+"/sys/dev/block/"+dev+"/loop/backing_file", []byte(f+"\n"), 0o644)
	}
	disk := fsys + "/sys/devices/virtual/block/loop91"
	os.MkdirAll(disk+"/loop", 0o755)
	os.MkdirAll(disk+"/loop91p1", 0o755)
	os.WriteFile(disk+"/dev", []byte("7:91\n"), 0o644)
	os.WriteFile(disk+"/loop/backing_file", []byte(imgs+"/part.img\n"), 0o644)
	os.WriteFile(disk+"/loop91p1/partition", []byte("1\n"), 0o644)
	os.Symlink("../../devices/virtual/block/loop91", fsys+"/sys/dev/block/7:91")
	os.Symlink("../../devices/virtual/block/loop91/loop91p1", fsys+"/sys/dev/block/259:91")
	os.MkdirAll(fsys+"/sys/dev/block/253:92/slaves/loop92", 0o755)
	os.WriteFile(fsys+"/sys/dev/block/253:92/slaves/loop92/dev", []byte("7:92\n"), 0o644)
	os.Symlink(hybrid+"/sys/fs", fsys+"/sys/fs")
	// The host's paths, for a source that names a file.
	top := strings.SplitN(strings.TrimPrefix(d, "/"), "/", 2)[0]
	os.Symlink("/"+top, fsys+"/"+top)
	cg, _ := os.ReadFile(hybrid + "/proc/self/cgroup")
	os.MkdirAll(fsys+"/proc/self", 0o755)
	os.WriteFile(fsys+"/proc/self/cgroup", cg, 0o644)
	lines := "900 27 7:90 / " + d + "/mnt rw,relatime - ext4 /dev/loop90 rw\n" +
		"901 27 7:94 / " + d + "/mnt2 rw,relatime - ext4 /dev/loop94 rw\n" +
		"902 27 259:91 / " + d + "/mntp rw,relatime - ext4 /dev/loop91p1 rw\n" +
		"903 27 253:92 / " + d + "/mntd rw,relatime - ext4 /dev/mapper/x rw\n" +
		"904 27 0:93 / " + d + "/mnte ro,relatime - erofs " + imgs + "/e.img ro\n" +
		"905 27 7:95 / " + d + "/mnto rw,relatime - ext4 /dev/loop95 rw\n" +
		"906 27 0:97 / " + d + "/merged rw,relatime - overlay overlay rw,lowerdir=" + d + "/other,upperdir=" + up + ",workdir=" + d + "/work\n" +
		"907 27 7:96 / " + d + "/mntg rw,relatime - ext4 /dev/loop96 rw\n" +
		"908 27 7:98 / " + d + "/mntv rw,relatime - ext4 /dev/loop98 rw\n"
	os.WriteFile(fsys+"/proc/self/mountinfo", append(append([]byte{}, mi...), lines...), 0o644)

	cache := "/var/cache/nsup"
	compile := func(specDir, mounts string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(specDir, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, specDir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: cache, Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
		_, err = Compile(s, o)
		return err
	}
	bind := func(src, opts string) string { return "{type: bind, source: '" + src + "', target: /w" + opts + "}" }
	for _, c := range []struct {
		name, spec, mounts, image, at string // image: "" if planned
	}{
		{"loop device, its image's folder bound", d + "/mnt/proj", bind(imgs, ""), imgs + "/disk.img", imgs + "/disk.img"},
		{"loop device, a folder above its image's bound", d + "/mnt/proj", bind(d+"/host", ""), imgs + "/disk.img", imgs + "/disk.img"},
		{"loop device, its image's folder bound read-only", d + "/mnt/proj", bind(imgs, ", readonly: true"), "", ""},
		{"loop device, another folder bound", d + "/mnt/proj", bind(d+"/other", ""), "", ""},
		{"partition of a loop device", d + "/mntp/proj", bind(imgs, ""), imgs + "/part.img", imgs + "/part.img"},
		{"device-mapper device on a loop device", d + "/mntd/proj", bind(imgs, ""), imgs + "/dm.img", imgs + "/dm.img"},
		{"mounted from its image file (the source)", d + "/mnte/proj", bind(imgs, ""), imgs + "/e.img", imgs + "/e.img"},
		{"another loop device of the same image, its filesystem bound", d + "/mnt/proj", bind(d+"/mnt2", ""), imgs + "/disk.img", d + "/mnt2/proj/nsup.yaml"},
		{"the image in an overlay's upper folder, the merged one bound", d + "/mnto/proj", bind(d+"/merged", ""), up + "/o.img", d + "/merged/o.img"},
		{"a removed image, a folder of its filesystem bound", d + "/mntg/proj", bind(d+"/other", ""), imgs + "/gone.img (removed; a name it keeps may be anywhere on its filesystem)", d + "/other"},
		{"a removed image, a folder of another filesystem bound", d + "/mntg/proj", bind(d+"/mnto", ""), "", ""},
	} {
		err := compile(c.spec, c.mounts)
		refused := err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec")
		switch {
		case c.image != "" && (!refused || !strings.Contains(err.Error(), "mounted from the image file "+c.image+" (a loop device's), which this mount lets the environment write at "+c.at+":")):
			t.Errorf("%s: %v, want the spec refused, its image %s written at %s", c.name, err, c.image, c.at)
		case c.image == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.name, err)
		}
	}

	// nsup's cache on the loop-mounted filesystem, its image's folder
	// bound writable.
	cache = d + "/mnt/cache/nsup"
	if err := compile(d+"/other", bind(imgs, "")); err == nil || !strings.Contains(err.Error(), "holds nsup's cache "+cache+" (on a filesystem mounted from the image file "+imgs+"/disk.img") {
		t.Errorf("the cache on the loop-mounted filesystem, its image's folder bound: %v, want refused", err)
	}

	// nsup's state directory on a loop-mounted filesystem whose image is
	// in a writable volume's folder.
	text := "version: 1\nname: proj\nvolumes:\n  src: {}\nenvironments:\n  a:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: volume, source: src, target: /src}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	file := d + "/other/nsup.yaml"
	os.WriteFile(file, []byte(text), 0o644)
	s, err := spec.ParseBytes(file, d+"/other", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", StateDir: d + "/mntv/run", VolumeDir: vols, Caller: &rootCaller})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
	if _, err := Compile(s, o); err == nil || !strings.Contains(err.Error(), "holds nsup's state directory "+d+"/mntv/run (on a filesystem mounted from the image file "+vol+"/v.img") {
		t.Errorf("the state directory on a loop-mounted filesystem, its image in a volume's folder: %v, want refused", err)
	}
}
