package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestLockFile: nsup lock writes a deterministic, sorted JSON-lines lock;
// nsup plan checks it and refuses a changed, added or removed file, named
// with its digests and the closure path that needs it; --update-lock
// accepts the new state.
func TestLockFile(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "sub"), 0o755)
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("one\n"), 0o644)
	os.WriteFile(filepath.Join(data, "sub", "b.txt"), []byte("two\n"), 0o600)
	specFile := filepath.Join(dir, "app.yaml")
	os.WriteFile(specFile, []byte(`version: 1
environments:
  app:
    rootfs: {closure: [./data, /bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /scratch}
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
  other:
    rootfs: {dir: ./data}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh]}
`), 0o644)
	lockName := specFile + ".lock"
	// The dir environment runs an (empty) sh of its own.
	os.WriteFile(filepath.Join(data, "sh"), nil, 0o755)
	os.MkdirAll(filepath.Join(data, "bin"), 0o755)
	os.Symlink("../sh", filepath.Join(data, "bin", "sh"))
	if code, out, errs := nsup(t, "lock", specFile); code != 0 || !strings.Contains(out, "app.yaml.lock: 2 environments") {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	first, _ := os.ReadFile(lockName)
	if code, _, errs := nsup(t, "lock", specFile); code != 0 {
		t.Fatal(errs)
	}
	if again, _ := os.ReadFile(lockName); string(again) != string(first) {
		t.Errorf("two locks of the same state differ")
	}
	// JSON lines, each a lock line, environments sorted, files sorted.
	lines := strings.Split(strings.TrimSuffix(string(first), "\n"), "\n")
	if lines[0] != `{"nsupLock":2}` {
		t.Errorf("first line %q", lines[0])
	}
	var keys []string
	for _, l := range lines[1:] {
		var ll lockLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		keys = append(keys, ll.Env+"\x00"+ll.Path)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("lock lines not sorted:\n%s", first)
	}
	// The files of the spec's folder are relative to it.
	aPath := "./data/a.txt"
	for _, want := range []string{
		`{"env":"app","path":"` + aPath + `","type":"file","mode":"0644","size":4,"digest":"` + sha([]byte("one\n")) + `"}`,
		`{"env":"app","path":"./data/sub/b.txt","type":"file","mode":"0600","size":4,"digest":"` + sha([]byte("two\n")) + `"}`,
		`{"env":"app","path":"/scratch","type":"dir","mode":"0755"}`,
		`{"env":"other","rootfs":"dir"}`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("the lock lacks %s:\n%s", want, first)
		}
	}
	if code, _, errs := nsup(t, "plan", specFile); code != 0 {
		t.Fatalf("plan with a matching lock: %d %s", code, errs)
	}

	// Change one file, add one, remove one.
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("ONE\n"), 0o644)
	os.WriteFile(filepath.Join(data, "c.txt"), []byte("three\n"), 0o644)
	os.Remove(filepath.Join(data, "sub", "b.txt"))
	code, out, errs := nsup(t, "plan", specFile)
	if code != 2 || out != "" {
		t.Fatalf("plan with a changed file: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		"app.yaml.lock: refused: the rootfs differs from the lock",
		"  app: " + aPath + ": " + sha([]byte("one\n")) + " (locked) -> " + sha([]byte("ONE\n")) + " (now), needed by " + data + "\n",
		"  app: ./data/c.txt: added (file " + sha([]byte("three\n")) + "), needed by " + data + "\n",
		"  app: ./data/sub/b.txt: removed (was file " + sha([]byte("two\n")) + ")\n",
	} {
		if !strings.Contains(errs+"\n", want) {
			t.Errorf("the report lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "other") {
		t.Errorf("the dir environment is reported: %s", errs)
	}
	// apply refuses the same way, before anything is done (no root
	// needed to be refused).
	if code, _, errs2 := nsup(t, "apply", specFile); code != 2 || !strings.Contains(errs2, aPath) {
		t.Errorf("apply: %d %s", code, errs2)
	}
	// Only the environments planned are compared.
	if code, _, errs := nsup(t, "plan", specFile, "other"); code != 0 {
		t.Errorf("plan other: %d %s", code, errs)
	}
	// --update-lock accepts, and says what it accepted.
	code, _, errs = nsup(t, "plan", "--update-lock", specFile)
	if code != 0 || !strings.Contains(errs, "app.yaml.lock updated") || !strings.Contains(errs, aPath) {
		t.Fatalf("plan --update-lock: %d %s", code, errs)
	}
	if code, _, errs := nsup(t, "plan", specFile); code != 0 {
		t.Fatalf("plan after --update-lock: %d %s", code, errs)
	}
	// A damaged lock is an error with its line.
	os.WriteFile(lockName, []byte("{\"nsupLock\":2}\n{\"env\":\"app\",\"bogus\":1}\n"), 0o644)
	if code, _, errs := nsup(t, "plan", specFile); code != 2 || !strings.Contains(errs, "app.yaml.lock:2: ") {
		t.Errorf("damaged lock: %d %s", code, errs)
	}
}

// TestWriteFileAtomicNoFixedTemp: the temporary file is a new one, never a
// fixed name another user (in a shared folder such as /tmp) or another
// nsup can hold: a symlink planted at NAME.tmp is not written through.
func TestWriteFileAtomicNoFixedTemp(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "spec.yaml.lock")
	if err := os.Symlink(victim, name+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(name, []byte("lock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink at NAME.tmp was written through: victim holds %q", b)
	}
	if b, _ := os.ReadFile(name); string(b) != "lock\n" {
		t.Errorf("%s holds %q", name, b)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: %v, mode %v, want 0644", name, err, fi.Mode())
	}
}

// TestLockLongLineReadBack: a lock nsup writes reads back, whatever the
// length of a line (a tar symlink's target may be up to 1 MiB, and JSON
// writes a control byte as 6).
func TestLockLongLineReadBack(t *testing.T) {
	link := strings.Repeat("\x01", 300<<10)
	envs := map[string]lockedEnv{"e": {kind: "tar", digest: "sha256:00", files: []planner.File{{Path: "/l", Type: "symlink", Link: link}}}}
	name := filepath.Join(t.TempDir(), "s.yaml.lock")
	if err := os.WriteFile(name, encodeLock(envs), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, err := readLock(name, "s.yaml.lock")
	if err != nil {
		t.Fatal(err)
	}
	if f := got["e"].files; len(f) != 1 || f[0].Link != link {
		t.Errorf("read back %d files", len(f))
	}
}

// A lock beside the spec that is a symlink to a device or a FIFO (a
// repository's, say) is refused at once, not read forever (/dev/zero)
// or waited on (a FIFO).
func TestLockNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/dev/zero", fifo} {
		name := filepath.Join(dir, "s.yaml.lock")
		os.Remove(name)
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := readLock(name, "s.yaml.lock")
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("a lock that is a symlink to %s: %v", target, err)
			}
		case <-time.After(5 * time.Second):
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			t.Fatalf("a lock that is a symlink to %s: still reading after 5 s", target)
		}
	}
}

// TestLockSymlinkMode: a symlink has no mode of its own (the lock records
// none, the tree's are 0777): when the rootfs differs, the report names the
// changed file, never a symlink's "mode 0000 (locked) -> 0777 (now)".
func TestLockSymlinkMode(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("one\n"), 0o644)
	os.Symlink("a.txt", filepath.Join(data, "link"))
	specFile := filepath.Join(dir, "app.yaml")
	os.WriteFile(specFile, []byte(`version: 1
environments:
  app:
    rootfs: {closure: [./data, /bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`), 0o644)
	if code, out, errs := nsup(t, "lock", specFile); code != 0 {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	lock, _ := os.ReadFile(specFile + ".lock")
	if !strings.Contains(string(lock), `"type":"symlink","link":"a.txt"}`) {
		t.Fatalf("the lock lacks the symlink (without a mode):\n%s", lock)
	}
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("ONE\n"), 0o644)
	code, _, errs := nsup(t, "plan", specFile)
	if code != 2 || !strings.Contains(errs, "a.txt: "+sha([]byte("one\n"))) {
		t.Fatalf("plan with a changed file: exit %d:\n%s", code, errs)
	}
	if strings.Contains(errs, "mode") {
		t.Errorf("a symlink's mode is reported:\n%s", errs)
	}

	// diffFiles alone: a mode is never compared for a symlink, whatever
	// the two sides hold.
	old := []planner.File{{Path: "/l", Type: "symlink", Link: "x"}, {Path: "/f", Type: "file", Mode: 0o644, Digest: "sha256:00"}}
	cur := []planner.File{{Path: "/l", Type: "symlink", Mode: 0o777, Link: "x"}, {Path: "/f", Type: "file", Mode: 0o600, Digest: "sha256:00"}}
	got := diffFiles("e", planner.Rootfs{Type: "tar"}, old, cur, nil, specPlace{})
	if want := []string{"  e: /f: mode 0644 (locked) -> 0600 (now)"}; !slices.Equal(got, want) {
		t.Errorf("diffFiles: %q, want %q", got, want)
	}
}

// portableSpec writes a small repository, a spec and the tool it names
// by a path relative to it, into dir (made).
func portableSpec(t *testing.T, dir, mountTarget string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tools", "mytool"), []byte("#!/bin/sh\necho mytool\n"), 0o755)
	os.Symlink("mytool", filepath.Join(dir, "tools", "alias"))
	specFile := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(specFile, []byte(`version: 1
environments:
  box:
    rootfs: {closure: [./tools/mytool, ./tools/alias, /bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /scratch}
      - {type: tmpfs, target: `+mountTarget+`}
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`), 0o644)
	return specFile
}

// TestLockPortable: a lock made in one clone of a repository holds the
// files of the spec's folder relative to it, and nothing of where the
// clone is; another clone at another path, with the same files, passes;
// a file changed there is named by its spec-relative path.
func TestLockPortable(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	base := t.TempDir()
	// godev's clone is below the folder the spec mounts a tmpfs on (its
	// tree holds that folder from the host, 0700); the teammate's is
	// elsewhere, deeper (nsup makes the folder, 0755).
	mounted := filepath.Join(base, "srv")
	a := filepath.Join(mounted, "godev", "proj")
	b := filepath.Join(base, "home", "teammate", "src", "proj")
	specA, specB := portableSpec(t, a, mounted), portableSpec(t, b, mounted)
	os.Chmod(mounted, 0o700)
	os.Chmod(filepath.Join(mounted, "godev"), 0o711)
	if code, out, errs := nsup(t, "lock", specA); code != 0 {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	lockA, _ := os.ReadFile(specA + ".lock")
	// Only the mount target (the spec's own absolute path) and the
	// folders above it, as nsup makes them (0755, not the host's 0700).
	if strings.Contains(string(lockA), "godev") || !strings.Contains(string(lockA), `{"env":"box","path":"`+mounted+`","type":"dir","mode":"0755"}`) {
		t.Errorf("the lock holds where the clone is:\n%s", lockA)
	}
	for _, want := range []string{
		`{"env":"box","path":".","type":"dir","mode":"0755"}`,
		`{"env":"box","path":"./tools/alias","type":"symlink","link":"mytool"}`,
		`{"env":"box","path":"./tools/mytool","type":"file","mode":"0755","size":22,"digest":"` + sha([]byte("#!/bin/sh\necho mytool\n")) + `"}`,
		`{"env":"box","path":"/scratch","type":"dir","mode":"0755"}`,
	} {
		if !strings.Contains(string(lockA), want+"\n") {
			t.Errorf("the lock lacks %s:\n%s", want, lockA)
		}
	}
	// The teammate's clone: the same files, the same lock.
	os.WriteFile(specB+".lock", lockA, 0o644)
	if code, _, errs := nsup(t, "plan", specB); code != 0 {
		t.Fatalf("plan in another clone: %d\n%s", code, errs)
	}
	if code, _, errs := nsup(t, "lock", specB); code != 0 {
		t.Fatal(errs)
	}
	if lockB, _ := os.ReadFile(specB + ".lock"); string(lockB) != string(lockA) {
		t.Errorf("the two clones' locks differ:\n%s\n%s", lockA, lockB)
	}
	// Changed there: named by its path in the repository.
	os.WriteFile(filepath.Join(b, "tools", "mytool"), []byte("#!/bin/sh\necho changed\n"), 0o755)
	code, _, errs := nsup(t, "plan", specB)
	want := "  box: ./tools/mytool: " + sha([]byte("#!/bin/sh\necho mytool\n")) + " (locked) -> " + sha([]byte("#!/bin/sh\necho changed\n")) + " (now), needed by " + filepath.Join(b, "tools", "mytool") + ", " + filepath.Join(b, "tools", "alias") + "\n"
	if code != 2 || !strings.Contains(errs+"\n", want) {
		t.Errorf("plan with a changed file: exit %d:\n%s\nwant the line\n%s", code, errs, want)
	}
	if n := strings.Count(errs, "\n  box: "); n != 2 {
		t.Errorf("%d lines reported, want the rootfs and the file:\n%s", n, errs)
	}
}

// TestLockFormat1: a lock of format 1 (absolute paths) made in this clone
// is still read, as this clone's; another format is refused, saying to
// run nsup lock.
func TestLockFormat1(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "proj")
	specFile := portableSpec(t, dir, "/mnt")
	p, err := compile(specFile, nil, planner.NewIndex(planner.DefaultCacheDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rootfsOf(p.Environments[0])
	v1 := encodeLock(map[string]lockedEnv{"box": {kind: "closure", digest: r.Digest, files: r.Files}})
	v1 = []byte(strings.Replace(string(v1), `{"nsupLock":2}`, `{"nsupLock":1}`, 1))
	if !strings.Contains(string(v1), `"path":"`+filepath.Dir(dir)+`"`) {
		t.Fatalf("not a lock of format 1:\n%s", v1)
	}
	os.WriteFile(specFile+".lock", v1, 0o644)
	if code, _, errs := nsup(t, "plan", specFile); code != 0 {
		t.Errorf("plan with a lock of format 1: %d %s", code, errs)
	}
	os.WriteFile(specFile+".lock", []byte("{\"nsupLock\":3}\n"), 0o644)
	if code, _, errs := nsup(t, "plan", specFile); code != 2 || !strings.Contains(errs, "nsup.yaml.lock:1: not an nsup lock of format 2 (nor 1) (rewrite it with nsup lock)") {
		t.Errorf("plan with a lock of format 3: %d %s", code, errs)
	}
}

// TestLockCheck: nsup lock --check writes nothing and says in its exit
// status whether the lock matches (0), differs (1, with plan's report)
// or cannot be checked (2); a lock made in one clone checks clean in
// another at another path, and a file changed there is named by its path
// in the repository.
func TestLockCheck(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	base := t.TempDir()
	a := filepath.Join(base, "godev", "proj")
	b := filepath.Join(base, "ci", "builds", "x", "proj")
	specA, specB := portableSpec(t, a, "/mnt"), portableSpec(t, b, "/mnt")
	listing := func() string {
		var l []string
		filepath.WalkDir(base, func(p string, d os.DirEntry, _ error) error {
			fi, _ := d.Info()
			l = append(l, fmt.Sprintf("%s %v %d %v", p, fi.Mode(), fi.Size(), fi.ModTime()))
			return nil
		})
		return strings.Join(l, "\n")
	}

	before := listing()
	if code, out, errs := nsup(t, "lock", "--check", specA); code != 1 || out != "" || !strings.Contains(errs, "nsup.yaml.lock: no lock: nsup lock "+specA+" writes it") {
		t.Errorf("--check without a lock: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if after := listing(); after != before {
		t.Errorf("--check without a lock wrote:\n%s\nthen\n%s", before, after)
	}
	if code, out, errs := nsup(t, "lock", specA); code != 0 {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	lock, _ := os.ReadFile(specA + ".lock")
	os.WriteFile(specB+".lock", lock, 0o644)
	before = listing()
	if code, out, errs := nsup(t, "lock", "--check", specB); code != 0 || errs != "" || !strings.Contains(out, "nsup.yaml.lock: up to date (1 environment)") {
		t.Errorf("--check in another clone: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// FILE found as run finds it.
	t.Chdir(filepath.Join(b, "tools"))
	if code, out, errs := nsup(t, "lock", "--check"); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("--check without FILE: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	os.WriteFile(filepath.Join(b, "tools", "mytool"), []byte("#!/bin/sh\necho changed\n"), 0o755)
	before = listing()
	code, out, errs := nsup(t, "lock", "--check", specB)
	if code != 1 || out != "" || !strings.Contains(errs, "nsup.yaml.lock: the rootfs differs from the lock (nsup lock accepts it):\n") ||
		!strings.Contains(errs, "\n  box: ./tools/mytool: "+sha([]byte("#!/bin/sh\necho mytool\n"))+" (locked) -> "+sha([]byte("#!/bin/sh\necho changed\n"))+" (now), needed by ") {
		t.Errorf("--check with a changed file: exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}
	if after := listing(); after != before {
		t.Errorf("--check wrote:\n%s\nthen\n%s", before, after)
	}
	// The clone it was made in still matches.
	if code, _, errs := nsup(t, "lock", "--check", specA); code != 0 {
		t.Errorf("--check in the first clone: %d %s", code, errs)
	}

	// 2: usage, an invalid spec, a damaged lock.
	bad := filepath.Join(base, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nenvironments: {x: {nope: 1}}\n"), 0o644)
	os.WriteFile(specA+".lock", []byte("{\"nsupLock\":2}\n{\"env\":\"box\",\"bogus\":1}\n"), 0o644)
	for _, args := range [][]string{{"--check", specA, specB}, {"--check", "--nope", specA}, {"--check", bad}, {"--check", specA}} {
		if code, out, errs := nsup(t, append([]string{"lock"}, args...)...); code != 2 || out != "" {
			t.Errorf("lock %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// TestLockReportPrintable: the report of a lock that differs shows the
// names it lists printable: a file named with a terminal's escape
// sequences (an archive's member, a file in a closure's folder) does not
// reach the terminal as one (a review: "\x1b[2K\r  box: nothing changed"
// erased the report's line).
func TestLockReportPrintable(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tools"), 0o755)
	os.WriteFile(filepath.Join(dir, "tools", "mytool"), []byte("#!/bin/sh\n"), 0o755)
	spec := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  box:
    rootfs: {closure: [./tools, /bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`), 0o644)
	if code, out, errs := nsup(t, "lock", spec); code != 0 {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	evil := "evil\x1b[2K\r  box: nothing changed\x1b]52;c;ZWNobw==\x07"
	if err := os.WriteFile(filepath.Join(dir, "tools", evil), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lock", "--check", spec}, {"plan", spec}, {"lock", spec}} {
		_, _, errs := nsup(t, args...)
		if strings.ContainsAny(errs, "\x1b\r\x07") {
			t.Errorf("nsup %q printed a control character:\n%q", args, errs)
		}
		if args[0] == "lock" && len(args) == 2 {
			continue // it rewrites the lock, reporting nothing
		}
		if !strings.Contains(errs, "evil?[2K?  box: nothing changed?]52;c;ZWNobw==?") {
			t.Errorf("nsup %q does not name the file:\n%q", args, errs)
		}
	}
}
