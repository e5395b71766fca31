package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// joinedIDs maps root inside a to host uid 100000: nsup's cache, 0700 and
// root's, is out of that uid's reach.
const joinedIDs = `
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]`

// TestRootJoinedCacheRoot: environment b joins the mount and user
// namespaces of a, which maps root elsewhere (idmap, as root) and whose
// root is a tree of nsup's cache, and runs a command there; checked from
// inside (uid 0, the tree's files, a's /proc) and from the host (b's
// processes in a's namespaces, as host uid 100000). b's child opens
// nothing of nsup's folders: a's namespace already has the tree at /.
//
// Before helper-116's stop a host root could not be joined at all (the
// plan took its binds for b's own mounts, refused in a joined namespace,
// and found b's command in no mount), and a tar root joined with init:
// false planned and failed at apply, its command to be looked up in PATH
// in "no root tree". A closure root planned and applied already (the
// refusal docs/design.md named for a joined namespace's cache root was
// never reached: a joined namespace has no rootfs step).
func TestRootJoinedCacheRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	bb, err := filepath.EvalSymlinks(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, dir string, args ...string) (int, string) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+filepath.Join(dir, "state"), "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	for _, c := range []struct{ name, root string }{{"closure", "{closure: [" + bb + "]}"}, {"host", "{host: [" + filepath.Dir(bb) + "]}"}} {
		root := c.root
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "nsup.yaml")
			os.WriteFile(file, []byte(`version: 1
environments:
  a:
    rootfs: `+root+`
    namespaces: [user, mnt, pid]`+joinedIDs+`
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [`+bb+`, sleep, "1000"]}
  b:
    rootfs: `+root+`
    namespaces: [pid]
    join: {mnt: a, user: a}
    processes:
      - {name: main, command: [`+bb+`, sh, -c, 'echo "uid $$(busybox id -u) $$(busybox head -c 4 `+bb+` | busybox tail -c 3) $$(busybox cat /proc/1/comm)"; exec busybox sleep 1000']}
`), 0o644)
			ctx := context.Background()
			defer run(ctx, dir, "down", file)
			code, out := run(ctx, dir, "apply", "-d", file)
			if code != 0 {
				t.Fatalf("apply -d: %d\n%s", code, out)
			}
			pids := map[string]string{}
			for _, m := range regexp.MustCompile(`(?m)^([ab]) +running +pid (\d+) `).FindAllStringSubmatch(out, -1) {
				pids[m[1]] = m[2]
			}
			if pids["a"] == "" || pids["b"] == "" {
				t.Fatalf("apply -d: no pid of a and b running:\n%s", out)
			}
			// Inside: root, reading the tree's busybox, a's /proc (its
			// init is PID 1 there).
			want := "uid 0 ELF nsup-init"
			var got []byte
			var logs []string
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if logs, _ = filepath.Glob(filepath.Join(dir, "state", "*", "b", "output.log")); len(logs) == 1 {
					if got, _ = os.ReadFile(logs[0]); strings.Contains(string(got), want) {
						break
					}
				}
			}
			if !strings.Contains(string(got), want) {
				t.Errorf("b's output %q (logs %v), want %q", got, logs, want)
			}
			// The host: b's processes are in a's mount and user
			// namespaces, as host uid 100000.
			for _, ns := range []string{"mnt", "user"} {
				na, errA := os.Readlink("/proc/" + pids["a"] + "/ns/" + ns)
				nb, errB := os.Readlink("/proc/" + pids["b"] + "/ns/" + ns)
				if errA != nil || errB != nil || na != nb {
					t.Errorf("%s namespace: a %s (%v), b %s (%v), want the same", ns, na, errA, nb, errB)
				}
			}
			if m, err := os.ReadFile("/proc/" + pids["b"] + "/uid_map"); err != nil || strings.Join(strings.Fields(string(m)), " ") != "0 100000 65536" {
				t.Errorf("b's uid_map: %q %v", m, err)
			}
			if st, err := os.ReadFile("/proc/" + pids["b"] + "/status"); err != nil || !regexp.MustCompile(`(?m)^Uid:\s+100000\s`).Match(st) {
				t.Errorf("b's init is not host uid 100000: %v\n%s", err, st)
			}
			if code, out := run(ctx, dir, "down", file); code != 0 || strings.Count(out, "removed") != 2 {
				t.Errorf("down: %d\n%s", code, out)
			}
		})
	}
	// A tar root, b with no init (not detachable): its command, found
	// in PATH when it starts, is looked up in a's tree by the host. a
	// waits for b's file in its tmpfs, which b sees.
	t.Run("tar", func(t *testing.T) {
		dir := t.TempDir()
		alpineTarball(t, dir)
		file := filepath.Join(dir, "nsup.yaml")
		os.WriteFile(file, []byte(`version: 1
environments:
  a:
    rootfs: {tar: ./minirootfs.tar.gz}
    namespaces: [user, mnt, pid]`+joinedIDs+`
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [sh, -c, 'while [ ! -e /tmp/done ]; do sleep 0.05; done; echo "a saw $$(cat /tmp/done)"']}
  b:
    rootfs: {tar: ./minirootfs.tar.gz}
    namespaces: [pid]
    join: {mnt: a, user: a}
    init: false
    processes:
      - {name: main, command: [sh, -c, 'echo "uid $$(id -u) $$(head -c 4 /bin/busybox | cut -c 2-4) $$(cat /proc/1/comm)"; echo b > /tmp/done']}
`), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		defer run(context.Background(), dir, "down", file)
		code, out := run(ctx, dir, "apply", file)
		for _, want := range []string{"b/main | uid 0 ELF nsup-init", "a/main | a saw b"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("apply: %d, want %q in:\n%s", code, want, out)
			}
		}
		// The host: the cache's tree is root's still, never written.
		entries, _ := filepath.Glob(filepath.Join(dir, "cache", "tar", "*", "tmp"))
		for _, e := range entries {
			if fi, err := os.Stat(filepath.Join(e, "done")); err == nil {
				t.Errorf("b's file went into the cache's tree: %v", fi)
			}
		}
		if len(entries) != 1 {
			t.Errorf("the tar's tree in the cache: %v", entries)
		}
	})
}
