package planner

import (
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootLoopBackingLazy (helper-83): a mount's backing files
// (cgroup.AddBacking) were found for every mount of the host's table
// when the plan read it, each loop device opened (LOOP_GET_STATUS64):
// on a host with dozens of loop mounts (snaps'), every plan opened them
// all, a spec with no writable bind too. With an ext4 image on a loop
// device, mounted in a mount namespace of the test's own, and the spec
// on that filesystem, a spec with nothing writable (its dir root and
// its bind of the image's folder read-only) is planned without the loop
// device opened; the same bind writable is refused, naming the image,
// as before, the device opened then. Root only; needs mkfs.ext4 and loop
// devices.
func TestRootLoopBackingLazy(t *testing.T) {
	requireLoopImages(t)
	d, inner := ownMountNS(t, "NSUP_TEST_LOOP_LAZY_DIR", func(d string) {
		if n, err := os.ReadFile(d + "/loop"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), d+"/imgs/disk.img")
		}
	})
	if inner {
		loopBackingLazy(t, d)
	}
}

// openRecorder is a file tree that records each name opened in it.
type openRecorder struct {
	fs.FS
	mu     sync.Mutex
	opened []string
}

func (r *openRecorder) Open(name string) (fs.File, error) {
	r.mu.Lock()
	r.opened = append(r.opened, name)
	r.mu.Unlock()
	return r.FS.Open(name)
}

func (r *openRecorder) ReadLink(name string) (string, error)   { return fs.ReadLink(r.FS, name) }
func (r *openRecorder) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(r.FS, name) }

// loopBackingLazy is TestRootLoopBackingLazy in its own mount namespace,
// in the folder d.
func loopBackingLazy(t *testing.T, d string) {
	imgs, mnt, image := d+"/imgs", d+"/mnt", d+"/imgs/disk.img"
	ext4Image(t, d, image, imgs, mnt)
	n := mountLoop(t, d, image, mnt)
	defer unix.Unmount(mnt, 0) // the loop device's autoclear detaches it then
	dev := "dev/loop" + strconv.Itoa(n)

	file := mnt + "/proj/nsup.yaml"
	os.MkdirAll(mnt+"/proj", 0o755)
	view := hostView(t, ownMountinfo(t), true)
	compile := func(opts string) ([]string, error) {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root, readonly: true}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: '" + imgs + "', target: /w" + opts + "}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, mnt+"/proj", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		r := &openRecorder{FS: os.DirFS(view)}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(r) }
		_, err = Compile(s, o)
		return r.opened, err
	}
	opened, err := compile(", readonly: true")
	if err != nil {
		t.Errorf("nothing writable: %v, want planned", err)
	}
	if slices.Contains(opened, dev) {
		t.Errorf("nothing writable, the spec on loop%d: the plan opened %s, want it not asked", n, dev)
	}
	opened, err = compile("")
	if err == nil || !strings.Contains(err.Error(), "is on a filesystem mounted from the image file "+image+" (a loop device's)") {
		t.Errorf("the spec on loop%d, its image's folder %s bound writable: %v, want refused, naming the image", n, imgs, err)
	}
	if !slices.Contains(opened, dev) {
		t.Errorf("the image's folder bound writable: %s not opened (opened %q): the test does not see what it checks", dev, opened)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
