package main

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRootMissingCwd: a working directory the root lacks is made where
// the folder it goes in is the environment's own (a tar root's or an
// overlay's upper layer, a tmpfs, a volume), and never in nsup's cache
// entry or the host's dir root; a dir root without overlay refuses the
// plan. Before, each planned and apply failed at the process's chdir
// ("no such file or directory").
func TestRootMissingCwd(t *testing.T) {
	rc := newReachCase(t, "workdir")
	dir, bin := rc.dir, rc.bin
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	volumes := filepath.Join(dir, "volumes")
	os.Mkdir(volumes, 0o700)
	t.Setenv("NSUP_VOLUME_DIR", volumes)
	busyboxTar(t, dir, "bare.tar", []string{"sh", "sleep", "touch"})
	root := filepath.Join(dir, "r", "bin")
	os.MkdirAll(root, 0o755)
	bb, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "busybox"), bb, 0o755)
	for _, a := range []string{"sh", "sleep", "touch"} {
		os.Symlink("busybox", filepath.Join(root, a))
	}
	// The mounts' targets (made in a dir root without overlay if missing).
	os.Mkdir(filepath.Join(dir, "r", "tmp"), 0o755)
	os.Mkdir(filepath.Join(dir, "r", "build"), 0o755)
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	// The environment's cwd is the child's; main has its own, and waits
	// for the child to have printed its.
	write := func(name, rootfs, namespaces, extra, cwd, mainCwd string) string {
		spec := filepath.Join(dir, name+".yaml")
		os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
name: workdir
volumes: {build: null}
environments:
  t:
    rootfs: %s
    namespaces: [%s]
%s    mounts:
      - {type: tmpfs, target: /tmp}
      - {type: volume, source: build, target: /build}
    cwd: %s
    processes:
      - {name: main, command: [/bin/sh, -c, 'pwd; until test -e /tmp/done; do sleep 0.02; done'], cwd: %s,
         children: [{name: c, command: [/bin/sh, -c, 'pwd; touch /tmp/done']}]}
`, rootfs, namespaces, extra, cwd, mainCwd)), 0o644)
		return spec
	}
	apply := func(t *testing.T, spec, want string) {
		t.Helper()
		code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(lines)
		if code != 0 || strings.Join(lines, ",") != want {
			t.Errorf("apply: exit %d, out %q, want 0 and %s\n%s", code, out, want, errs)
		}
	}
	// The trees' names after the applies: the archive's, the dir root's.
	entry := func() []string { return tarEntryNames(t, cache, filepath.Join(dir, "bare.tar")) }
	dirNames := func() []string {
		var list []string
		filepath.Walk(filepath.Join(dir, "r"), func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				r, _ := filepath.Rel(dir, p)
				list = append(list, r)
			}
			return nil
		})
		return list
	}
	dirBefore := dirNames()
	dirUnwritten := func(t *testing.T) {
		t.Helper()
		if got := dirNames(); !slices.Equal(got, dirBefore) {
			t.Errorf("the dir root holds %q after the apply, want %q", got, dirBefore)
		}
	}
	unwritten := func(t *testing.T) {
		t.Helper()
		if got, want := entry(), []string{".", "bin", "bin/busybox", "bin/sh", "bin/sleep", "bin/touch"}; !slices.Equal(got, want) {
			t.Errorf("the cache entry holds %q after the apply, want the archive's names %q", got, want)
		}
		dirUnwritten(t)
	}
	for _, c := range []struct{ name, rootfs, namespaces, extra string }{
		{"tar", "{tar: ./bare.tar}", "mnt, pid", ""},
		{"tar idmap", "{tar: ./bare.tar}", "user, mnt, pid", idmap},
		{"overlay", "{dir: ./r, overlay: true}", "mnt, pid", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			apply(t, write(strings.ReplaceAll(c.name, " ", ""), c.rootfs, c.namespaces, c.extra, "/work/sub", "/work/sub/deeper"),
				"t/c | /work/sub,t/main | /work/sub/deeper")
			unwritten(t)
		})
	}
	t.Run("tmpfs and volume", func(t *testing.T) {
		// In a dir root without overlay: below a tmpfs and a volume, the
		// environment's own folders, the cwd is made there.
		spec := write("below", "{dir: ./r}", "mnt, pid", "", "/tmp/a/b", "/build/out")
		apply(t, spec, "t/c | /tmp/a/b,t/main | /build/out")
		out := filepath.Join(volumes, "workdir", "build", "out")
		if st, err := os.Stat(out); err != nil || !st.IsDir() {
			t.Errorf("the volume's folder: %v", err)
		}
		dirUnwritten(t)
		// Root inside leaves a link in the volume, to a folder of the
		// dir root, the host's: the plan sees it, and leaves the cwd
		// through it to the process's chdir (no MakeCwd), which fails;
		// nothing is made in the dir root. (A link left after the plan
		// is refused by the walk, which follows none:
		// TestRootMakeCwdFollowsNoLink.)
		os.RemoveAll(out)
		os.Symlink("/bin", out)
		spec = write("planted", "{dir: ./r}", "mnt, pid", "", "/tmp/a/b", "/build/out/planted")
		if _, plan, _ := runCaptured(t, exec.Command(bin, "plan", spec)); strings.Contains(plan, "/out/planted, 0755") {
			t.Errorf("the plan makes the cwd through the link:\n%s", plan)
		}
		code, stdout, errs := runCaptured(t, exec.Command(bin, "apply", spec))
		if code == 0 || stdout != "" || !strings.Contains(errs, `chdir("/build/out/planted"): no such file or directory`) {
			t.Errorf("apply with a link in the volume: exit %d, out %q, want the chdir to fail\n%s", code, stdout, errs)
		}
		dirUnwritten(t)
	})
	t.Run("tar link into a mount", func(t *testing.T) {
		// The archive's /var/run -> /run, a tmpfs at /run: the step's
		// walk crosses no mount. The plan sees the link in the
		// archive's shape and refuses it, saying the way out (before,
		// apply failed at the step, EXDEV).
		busyboxTar(t, dir, "linked.tar", []string{"sh"}, tar.Header{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: "var/run", Typeflag: tar.TypeSymlink, Linkname: "/run"})
		spec := filepath.Join(dir, "linked.yaml")
		os.WriteFile(spec, []byte(`version: 1
environments:
  t:
    rootfs: {tar: ./linked.tar}
    namespaces: [mnt, pid]
    mounts: [{type: tmpfs, target: /run}]
    processes:
      - {name: main, command: [/bin/sh, -c, pwd], cwd: /var/run/app}
`), 0o644)
		code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
		if code == 0 || out != "" || !strings.Contains(errs, "linked.yaml:8:56: environments.t.processes[0].cwd: /var/run/app leads through a symlink of the tar root's archive ") || !strings.Contains(errs, "linked.tar to /run/app, in the mount at /run (environments.t.mounts[0])") || !strings.Contains(errs, "give the cwd as /run/app") {
			t.Errorf("apply: exit %d, out %q, want the plan refused, with its way out\n%s", code, out, errs)
		}
		os.WriteFile(spec, []byte(strings.Replace(mustReadString(t, spec), "cwd: /var/run/app", "cwd: /run/app", 1)), 0o644)
		code, out, errs = runCaptured(t, exec.Command(bin, "apply", spec))
		if code != 0 || out != "/run/app\n" {
			t.Errorf("apply of the way out: exit %d, out %q, want /run/app\n%s", code, out, errs)
		}
	})
	t.Run("dir refused", func(t *testing.T) {
		spec := write("dir", "{dir: ./r}", "mnt, pid", "", "/work/sub", "/work/sub/deeper")
		code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
		want := "environments.t.cwd: /work/sub is not in the dir root " + filepath.Join(dir, "r") + ": the process's chdir would fail"
		if code == 0 || out != "" || !strings.Contains(errs, want) || !strings.Contains(errs, "environments.t.processes[0].cwd: /work/sub/deeper is not in the dir root") {
			t.Errorf("apply: exit %d, out %q, want a refusal naming both working directories\n%s", code, out, errs)
		}
		dirUnwritten(t)
	})
}

func mustReadString(t *testing.T, p string) string { return string(mustRead(t, p)) }
