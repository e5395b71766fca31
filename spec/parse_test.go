package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignorePos compares values without their positions; TestPositions checks
// those.
var ignorePos = cmpopts.IgnoreTypes(Pos{}, []Pos{}) // CommandPos too

func mustParse(t *testing.T, yaml string) *Spec {
	t.Helper()
	s, err := ParseBytes("test.yaml", "/specs", []byte(yaml))
	if err != nil {
		t.Fatalf("ParseBytes:\n%v", err)
	}
	return s
}

// TestSpecV1Example parses the complete example of spec-v1.md and checks
// every value, defaults included.
func TestSpecV1Example(t *testing.T) {
	s, err := Parse("testdata/valid/spec-v1-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		File:    "testdata/valid/spec-v1-example.yaml",
		Dir:     abs,
		Version: 1,
		Environments: []*Environment{
			{
				Name: "db",
				Rootfs: Rootfs{
					Closure:  []String{{Value: "/bin/sh"}, {Value: "/bin/sleep"}, {Value: "/bin/cat"}},
					Readonly: true,
				},
				Namespaces: []Namespace{{Type: "mnt"}, {Type: "pid"}, {Type: "uts"}, {Type: "ipc"}, {Type: "net"}},
				Hostname:   &String{Value: "db"},
				Mounts: []Mount{
					{Type: "proc", Target: "/proc"},
					{Type: "tmpfs", Target: "/tmp", Size: "16M", SizeBytes: 16 << 20, Mode: "1777"},
				},
				Process: []*Process{{Name: "main", Command: []string{"/bin/sh", "-c", "echo ready; sleep 2"}}},
			},
			{
				Name: "web",
				Rootfs: Rootfs{
					Dir:      filepath.Join(abs, "rootfs/web"),
					Overlay:  true,
					Readonly: false, // the overlay makes the root writable
				},
				Namespaces: []Namespace{{Type: "mnt"}, {Type: "pid"}, {Type: "uts"}},
				Join:       []Join{{Type: "net", Ref: "db"}, {Type: "ipc", Ref: "db"}},
				Hostname:   &String{Value: "web"},
				Env:        []EnvVar{{Name: "GREETING", Value: "hello"}},
				Cwd:        &String{Value: "/srv"},
				Mounts: []Mount{
					{Type: "proc", Target: "/proc"},
					{Type: "dev", Target: "/dev"},
					{Type: "bind", Source: filepath.Join(abs, "src"), Target: "/srv", Readonly: true, Recursive: true},
				},
				Process: []*Process{{
					Name:    "server",
					Command: []string{"/bin/server", "--port", "8080"},
					Children: []*Process{{
						Name:    "warmup",
						Command: []string{"/bin/sh", "-c", "echo warming"},
					}},
				}},
			},
		},
	}
	if diff := cmp.Diff(want, s, ignorePos, cmpopts.IgnoreFields(Spec{}, "Digest")); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(s.Digest, "sha256:") || len(s.Digest) != len("sha256:")+64 {
		t.Errorf("Digest = %q, want sha256:HEX", s.Digest)
	}
}

// TestDefaults checks every default that ParseBytes applies, and that unset
// keys stay unset (nil) for the planner to apply theirs.
func TestDefaults(t *testing.T) {
	s := mustParse(t, `version: 1
environments:
  box:
    rootfs: {tar: images/base.tar.gz}
    namespaces: [mnt]
    mounts:
      - {type: sysfs, target: /sys}
      - {type: bind, source: data, target: /data}
      - {type: bind, source: /etc/hosts, target: /etc/hosts/, recursive: false}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/sh]
`)
	e := s.Environments[0]
	want := &Environment{
		Name:       "box",
		Rootfs:     Rootfs{Tar: "/specs/images/base.tar.gz", Readonly: true},
		Namespaces: []Namespace{{Type: "mnt"}},
		Mounts: []Mount{
			{Type: "sysfs", Target: "/sys", Readonly: true},
			{Type: "bind", Source: "/specs/data", Target: "/data", Recursive: true},
			{Type: "bind", Source: "/etc/hosts", Target: "/etc/hosts", Recursive: false},
			{Type: "tmpfs", Target: "/tmp"},
		},
		Process: []*Process{{Name: "main", Command: []string{"/bin/sh"}}},
	}
	if diff := cmp.Diff(want, e, ignorePos); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if s.Dir != "/specs" || s.File != "test.yaml" || s.Version != 1 {
		t.Errorf("File, Dir, Version = %q, %q, %d", s.File, s.Dir, s.Version)
	}
}

// TestEveryKey sets every key of spec v1 and checks the decoded values.
func TestEveryKey(t *testing.T) {
	s := mustParse(t, `version: 1
environments:
  a:
    rootfs:
      dir: /srv/rootfs/
      readonly: false
    namespaces: [mnt, pid, uts, ipc, cgroup, user, time]
    hostname: a-host
    domainname: example.org
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid:
        - {inside: 0, outside: 1000, count: 1}
        - {inside: 1, outside: 100001, count: 0x10}
    time: {monotonic: -1h30m, boottime: 36h}
    env: {PATH: /bin, EMPTY: ""}
    cwd: /home/../work/
    user: 1000
    init: false
    mounts:
      - type: tmpfs
        target: /tmp
        readonly: true
        options: [nosuid, nodev, noexec, noatime]
        size: 512k
        mode: "0755"
      - {type: tmpfs, target: /run, size: 4096}
      - {type: devpts, target: /dev/pts, options: [relatime]}
      - {type: mqueue, target: /dev/mqueue}
    processes:
      - name: main
        command: [/bin/main]
        env: {DEBUG: "1"}
        cwd: /work
        user: "1000:100"
        children:
          - name: side
            command: [side, ""]
            user: "0"
            stop_timeout: 1m30s
  b:
    rootfs: {closure: [bin/tool]}
    namespaces: []
    join: {mnt: a, net: /proc/1/ns/net}
    processes:
      - {name: only, command: [/bin/tool]}
`)
	a, b := s.Environments[0], s.Environments[1]
	wantA := &Environment{
		Name:   "a",
		Rootfs: Rootfs{Dir: "/srv/rootfs", Readonly: false},
		Namespaces: []Namespace{{Type: "mnt"}, {Type: "pid"}, {Type: "uts"}, {Type: "ipc"},
			{Type: "cgroup"}, {Type: "user"}, {Type: "time"}},
		Hostname:   &String{Value: "a-host"},
		Domainname: &String{Value: "example.org"},
		IDMap: &IDMap{
			UID: []IDRange{{Inside: 0, Outside: 100000, Count: 65536}},
			GID: []IDRange{{Inside: 0, Outside: 1000, Count: 1}, {Inside: 1, Outside: 100001, Count: 16}},
		},
		Time: &Time{Monotonic: -90 * time.Minute, Boottime: 36 * time.Hour},
		Env:  []EnvVar{{Name: "PATH", Value: "/bin"}, {Name: "EMPTY", Value: ""}},
		Cwd:  &String{Value: "/work"},
		User: &User{UID: 1000, GID: 1000},
		Init: &Bool{Value: false},
		Mounts: []Mount{
			{Type: "tmpfs", Target: "/tmp", Readonly: true, Options: []string{"nosuid", "nodev", "noexec", "noatime"},
				Size: "512k", SizeBytes: 512 << 10, Mode: "0755"},
			{Type: "tmpfs", Target: "/run", Size: "4096", SizeBytes: 4096},
			{Type: "devpts", Target: "/dev/pts", Options: []string{"relatime"}},
			{Type: "mqueue", Target: "/dev/mqueue"},
		},
		Process: []*Process{{
			Name:    "main",
			Command: []string{"/bin/main"},
			Env:     []EnvVar{{Name: "DEBUG", Value: "1"}},
			Cwd:     &String{Value: "/work"},
			User:    &User{UID: 1000, GID: 100},
			Children: []*Process{{
				Name:        "side",
				Command:     []string{"side", ""},
				User:        &User{UID: 0, GID: 0},
				StopTimeout: &Duration{Value: 90 * time.Second},
			}},
		}},
	}
	if diff := cmp.Diff(wantA, a, ignorePos); diff != "" {
		t.Errorf("environment a (-want +got):\n%s", diff)
	}
	wantB := &Environment{
		Name:       "b",
		Rootfs:     Rootfs{Closure: []String{{Value: "/specs/bin/tool"}}, Readonly: true},
		Namespaces: []Namespace{},
		Join:       []Join{{Type: "mnt", Ref: "a"}, {Type: "net", Ref: "/proc/1/ns/net"}},
		Process:    []*Process{{Name: "only", Command: []string{"/bin/tool"}}},
	}
	if diff := cmp.Diff(wantB, b, ignorePos); diff != "" {
		t.Errorf("environment b (-want +got):\n%s", diff)
	}
	if !b.Joined("net").IsPath() || b.Joined("mnt").IsPath() {
		t.Errorf("IsPath: net %v, mnt %v", b.Joined("net").IsPath(), b.Joined("mnt").IsPath())
	}
	if s.Env("b") != b || s.Env("c") != nil {
		t.Errorf("Spec.Env does not find environments by name")
	}
}

// TestPositions checks the positions kept for the planner's origins.
func TestPositions(t *testing.T) {
	s := mustParse(t, `version: 1
environments:
  web:
    rootfs: {dir: ./r}
    namespaces: [mnt, uts]
    hostname: web
    env:
      A: b
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh]
`)
	e := s.Environments[0]
	for _, c := range []struct {
		what      string
		got, want Pos
	}{
		{"environment", e.Pos, Pos{3, 3}},
		{"rootfs", e.Rootfs.Pos, Pos{4, 13}},
		{"rootfs.dir", e.Rootfs.DirPos, Pos{4, 19}},
		{"namespaces[1]", e.Namespaces[1].Pos, Pos{5, 23}},
		{"hostname", e.Hostname.Pos, Pos{6, 15}},
		{"env key", e.EnvPos, Pos{7, 5}},
		{"env.A", e.Env[0].Pos, Pos{8, 7}},
		{"mounts[0]", e.Mounts[0].Pos, Pos{10, 9}},
		{"processes key", e.ProcessesPos, Pos{11, 5}},
		{"processes[0]", e.Process[0].Pos, Pos{12, 9}},
		{"processes[0].name", e.Process[0].NamePos, Pos{12, 15}},
	} {
		if c.got != c.want {
			t.Errorf("%s at %v, want %v", c.what, c.got, c.want)
		}
	}
	if got := s.Origin(e.Mounts[0].Pos); got != "test.yaml:10:9" {
		t.Errorf("Origin = %q", got)
	}
}

// TestErrorsAPI checks how a caller gets at the list of errors.
func TestErrorsAPI(t *testing.T) {
	_, err := ParseBytes("x.yaml", "/", []byte("version: 2\nenvironments: {}\n"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("errors.As(%T, *Errors) = false", err)
	}
	want := Errors{
		{File: "x.yaml", Pos: Pos{1, 10}, Path: "version", Msg: "must be 1, got 2"},
		{File: "x.yaml", Pos: Pos{2, 15}, Path: "environments", Msg: "must have at least one environment"},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	const text = "x.yaml:1:10: version: must be 1, got 2\n" +
		"x.yaml:2:15: environments: must have at least one environment"
	if err.Error() != text {
		t.Errorf("Error() =\n%s\nwant\n%s", err, text)
	}
	var one *Error
	if !errors.As(err, &one) || one != errs[0] {
		t.Errorf("errors.As(err, **Error) does not find the first error")
	}
}

// TestParseNotFound checks that a missing file gives the os error, not a
// spec error.
func TestParseNotFound(t *testing.T) {
	_, err := Parse("testdata/no-such-file.yaml")
	var errs Errors
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &errs) {
		t.Errorf("Parse(missing) = %v, want a not-exist error", err)
	}
}

// A spec named through a symlink of its folder (a repository's
// nsup.yaml) that leads out of that folder is refused before it is read:
// nsup plan printed the lines of the file it led to as errors, a
// ~/.git-credentials' token or /etc/shadow's hashes. A link within the
// folder is followed.
func TestParseLinkOutOfFolderRefused(t *testing.T) {
	home, repo := t.TempDir(), t.TempDir()
	secret := filepath.Join(home, ".git-credentials")
	os.WriteFile(secret, []byte("https://bob:ghp_SECRETTOKEN@github.com\n"), 0o600)
	for _, target := range []string{secret, "../" + filepath.Base(home) + "/.git-credentials"} {
		link := filepath.Join(repo, "nsup.yaml")
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		_, err := Parse(link)
		if err == nil || strings.Contains(err.Error(), "SECRETTOKEN") || !strings.Contains(err.Error(), "leads out of the spec's folder") {
			t.Errorf("nsup.yaml -> %s: %v, want it refused unread", target, err)
		}
	}
	os.Mkdir(filepath.Join(repo, "examples"), 0o755)
	os.WriteFile(filepath.Join(repo, "examples", "real.yaml"), []byte("version: 1\nenvironments:\n  box:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/sh]}]\n"), 0o644)
	os.Symlink("examples/real.yaml", filepath.Join(repo, "in.yaml"))
	if _, err := Parse(filepath.Join(repo, "in.yaml")); err != nil {
		t.Errorf("a link within the spec's folder: %v", err)
	}
}

// A spec that is a FIFO or a symlink to a device (in a repository) is
// refused at once: the open of a FIFO blocked nsup, and a device's open
// is an act of its own.
func TestParseNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yaml")
	os.Symlink("/dev/zero", zero)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range []string{fifo, zero} {
			if _, err := Parse(p); err == nil || !strings.Contains(err.Error(), "not a regular file") && !strings.Contains(err.Error(), "leads out") {
				t.Errorf("Parse(%s) = %v, want it refused", p, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("Parse blocked in the open of a FIFO")
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"rootfs", "namespaces", "hostname", "env", "cwd", "user"}
	for _, c := range []struct{ word, want string }{
		{"hostnme", "hostname"},
		{"hsotname", "hostname"},
		{"Hostname", "hostname"},
		{"namespace", "namespaces"},
		{"rootf", "rootfs"},
		{"envs", "env"},
		{"usr", "user"},
		{"foo", ""},
		{"ab", ""},
		{strings.Repeat("x", 1000), ""},
	} {
		if got := suggest(c.word, keys); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"100", 100, true},
		{"512k", 512 << 10, true},
		{"16M", 16 << 20, true},
		{"1g", 1 << 30, true},
		{"2T", 2 << 40, true},
		{"0", 0, false},
		{"16MB", 0, false},
		{"-1", 0, false},
		{"9999999T", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, msg := parseSize(c.in)
		if (msg == "") != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %q", c.in, got, msg)
		}
	}
}
