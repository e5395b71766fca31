package planner

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

func compileText(t *testing.T, yaml string, opts Options) (*Plan, error) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "rootfs", "bin", "sh"), []byte("#!"), 0o755)
	s, err := spec.ParseBytes("t.yaml", dir, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Caller == nil {
		opts.Caller = &rootCaller
	}
	return Compile(s, fixedOptions(opts))
}

func ops(p *Plan, env string) []Step {
	for _, e := range p.Environments {
		if e.Name == env {
			return e.Steps
		}
	}
	return nil
}

// With nsup's stdin a terminal, a single foreground environment gets a
// pty (and its main process the pty as its controlling terminal); with
// several, or detached, none does.
func TestTerminalPlan(t *testing.T) {
	const one = `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}, {name: side, command: [/bin/sh]}]
`
	const noInit = `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes: [{name: main, command: [/bin/sh]}]
`
	const two = one + `  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	const joins = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    join: {net: b}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    processes: [{name: main, command: [/bin/sh]}]
`
	count := func(p *Plan, env string) (pty, ctty, main int) {
		isMain := true // init: false: the child stage is the main process
		for _, st := range ops(p, env) {
			switch op := st.Op.(type) {
			case Openpty:
				pty++
			case Spawn:
				isMain = op.Main
			case Setctty:
				ctty++
				if st.Stage != Proc {
					t.Errorf("%s: TIOCSCTTY in stage %s", env, st.Stage)
				}
				if isMain {
					main++
				} else {
					t.Errorf("%s: the terminal is given to a process that is not the main one", env)
				}
			}
		}
		return
	}
	for _, c := range []struct {
		name, yaml       string
		opts             Options
		pty, ctty, start int
	}{
		{"one", one, Options{Terminal: true}, 1, 1, 1},
		{"one, no terminal", one, Options{}, 0, 0, 0},
		{"init false", noInit, Options{Terminal: true}, 1, 1, 1},
		{"two", two, Options{Terminal: true}, 0, 0, 0},
		// nsup run a, nsup shell a, apply FILE a: a joins b, planned
		// with it; a alone gets the pty (a review of the eighth stop:
		// it got /dev/null).
		{"named, with what it joins", joins, Options{Terminal: true, Envs: []string{"a"}}, 1, 1, 1},
		{"both named", joins, Options{Terminal: true, Envs: []string{"a", "b"}}, 0, 0, 0},
		{"detached", one, Options{Terminal: true, Detach: true, StateDir: "/run/x"}, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := compileText(t, c.yaml, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			pty, ctty, start := count(p, "a")
			if pty != c.pty || ctty != c.ctty || start != c.start {
				t.Errorf("openpty %d, TIOCSCTTY %d, of the main process %d; want %d, %d, %d", pty, ctty, start, c.pty, c.ctty, c.start)
			}
			if c.yaml != one && c.yaml != noInit {
				if pty, ctty, _ := count(p, "b"); pty+ctty != 0 {
					t.Errorf("b: openpty %d, TIOCSCTTY %d; want none", pty, ctty)
				}
			}
			// The pty is the output of a's one process too, unprefixed
			// (the review of the change: it wrote to init's labelled
			// pipes, its stdout no terminal).
			if c.pty == 1 && c.yaml == joins { // a: one process
				for _, st := range ops(p, "a") {
					if sp, ok := st.Op.(Spawn); ok && sp.Output != "" {
						t.Errorf("a's process %s is labelled %q: its output is not its pty", sp.Process, sp.Output)
					}
				}
			}
			// Every child stage leaves nsup's session, terminal or not.
			setsid := 0
			for _, st := range ops(p, "a") {
				if _, ok := st.Op.(Setsid); ok && st.Stage == Child {
					setsid++
				}
			}
			if setsid != 1 {
				t.Errorf("%d setsid steps in the child stage, want 1", setsid)
			}
		})
	}
}

// A hard limit above nsup's own cannot be set without CAP_SYS_RESOURCE:
// refused at plan time, naming the key, the environment's or a
// process's. A process may have a limit above its environment's: init
// sets each process's own.
func TestRlimitAboveOwn(t *testing.T) {
	_, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    rlimits: {nofile: "1024:4194304", nproc: 10}
    processes:
      - name: main
        command: [/bin/sh]
        rlimits: {nproc: 20, nofile: "2048:8388608"}
`, Options{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"t.yaml:7:23: environments.a.rlimits.nofile: hard limit 4194304 is above nsup's own (524288)",
		"t.yaml:11:38: environments.a.processes[0].rlimits.nofile: hard limit 8388608 is above nsup's own (524288)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "nproc") {
		t.Errorf("a process's limit above its environment's is refused:\n%v", err)
	}
	raise := rootCaller
	raise.RaiseLimits = true
	if _, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    rlimits: {nofile: "1024:4194304"}
    processes: [{name: main, command: [/bin/sh]}]
`, Options{Caller: &raise}); err != nil {
		t.Errorf("with CAP_SYS_RESOURCE: %v", err)
	}
}

// The limits the kernel checks against a count of the whole user
// (UserCountLimits: queued signals, message queue bytes) default to half
// of nsup's own hard limit, soft and hard, for every process, so that
// root inside, which the kernel counts as the host's root, leaves the
// host's root the other half (TestRootUserCountLimits); a limit the
// spec sets is kept as written, and where nsup's own is unlimited there
// is no default.
func TestUserCountLimits(t *testing.T) {
	caller := rootCaller
	caller.HardLimits = maps.Clone(fixedLimits)
	caller.HardLimits["sigpending"] = 96367
	caller.HardLimits["msgqueue"] = 819200
	for _, c := range []struct {
		name, rlimits string
		caller        *Caller
		want          map[Resource][2]uint64
	}{
		{"default", "", &caller, map[Resource][2]uint64{
			unix.RLIMIT_SIGPENDING: {48183, 48183}, unix.RLIMIT_MSGQUEUE: {409600, 409600}}},
		{"set", "\n    rlimits: {sigpending: 100, msgqueue: \"0:819200\"}", &caller, map[Resource][2]uint64{
			unix.RLIMIT_SIGPENDING: {100, 100}, unix.RLIMIT_MSGQUEUE: {0, 819200}}},
		{"unlimited", "", &rootCaller, map[Resource][2]uint64{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]`+c.rlimits+`
    processes: [{name: main, command: [/bin/sh]}]
`, Options{Caller: c.caller})
			if err != nil {
				t.Fatal(err)
			}
			got := map[Resource][2]uint64{}
			for _, st := range p.Environments[0].Steps {
				if op, ok := st.Op.(Prlimit); ok && (op.Resource == unix.RLIMIT_SIGPENDING || op.Resource == unix.RLIMIT_MSGQUEUE) {
					if _, dup := got[op.Resource]; dup {
						t.Errorf("%v set twice", op.Resource)
					}
					got[op.Resource] = [2]uint64{op.Soft, op.Hard}
				}
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("limits %v, want %v", got, c.want)
			}
		})
	}
}

// A bind source or a rootfs dir is planned with its symlinks resolved,
// and the plan says so: apply then refuses a symlink in that path.
func TestResolvedSources(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "real", "data"), 0o755)
	os.Symlink("real", filepath.Join(dir, "link"))
	p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: bind, source: `+filepath.Join(dir, "link", "data")+`, target: /data}]
    processes: [{name: main, command: [/bin/sh]}]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range ops(p, "a") {
		if m, ok := st.Op.(Mount); ok && m.Target == "/data" {
			found = true
			if m.Source != filepath.Join(dir, "real", "data") {
				t.Errorf("bind source %q, want the resolved %q", m.Source, filepath.Join(dir, "real", "data"))
			}
		}
	}
	if !found {
		t.Fatal("no bind step")
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "mounts[0].source") || !strings.Contains(notes, "apply refuses a symlink") {
		t.Errorf("the plan does not say the source was resolved: %q", notes)
	}
}

// The capability set: drop ALL then add; add ALL is every capability;
// the kernel's order whatever the spec's.
func TestCapabilities(t *testing.T) {
	for yaml, want := range map[string]string{
		`{drop: [ALL], add: [SYS_ADMIN, CHOWN]}`: "CAP_CHOWN|CAP_SYS_ADMIN",
		`{drop: [CHOWN, CAP_KILL]}`:              "CAP_DAC_OVERRIDE|CAP_FOWNER|CAP_FSETID|CAP_SETGID|CAP_SETUID|CAP_SETPCAP|CAP_NET_BIND_SERVICE|CAP_SYS_CHROOT|CAP_AUDIT_WRITE|CAP_SETFCAP",
		`{add: [ALL]}`:                           strings.Join(spec.Capabilities, "|"),
	} {
		p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    security: {capabilities: `+yaml+`}
    processes: [{name: main, command: [/bin/sh]}]
`, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range ops(p, "a") {
			if c, ok := st.Op.(Capset); ok {
				if got := strings.Join(c.Keep, "|"); got != want {
					t.Errorf("%s: capset(%s), want %s", yaml, got, want)
				}
			}
		}
	}
}

// TestNotDumpableBeforeMounts: the child stage is not dumpable before its
// first mount (until its root switch its /proc/PID/root is the host's),
// and a forked copy that makes no user namespace is not dumpable before
// its first setns (its child is born in the joined namespaces).
func TestNotDumpableBeforeMounts(t *testing.T) {
	p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: a}
    processes: [{name: main, command: [/bin/sh]}]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"a", "b"} {
		dumpable, forkedFirst := -1, ""
		for i, st := range ops(p, env) {
			if pr, ok := st.Op.(Prctl); ok && pr.Option == prSetDumpable && st.Stage == Child && dumpable < 0 {
				dumpable = i
			}
			if st.Stage == Forked && forkedFirst == "" {
				forkedFirst = FormatOp(st.Op)
			}
			if _, ok := st.Op.(Mount); ok && (dumpable < 0 || dumpable > i) {
				t.Errorf("%s: step %d mounts before the child stage is not dumpable", env, i)
				break
			}
		}
		if env == "b" && forkedFirst != "prctl(PR_SET_DUMPABLE, 0)" {
			t.Errorf("b: the forked copy's first step is %q", forkedFirst)
		}
	}
}

// TestWritableSysfs: readonly: false on a sysfs is refused outside a user
// namespace, where root inside would write the host's kernel knobs (the
// tenth stop's review wrote /sys/kernel/mm/transparent_hugepage/defrag);
// in a user namespace, where the kernel refuses those writes, it is not.
func TestWritableSysfs(t *testing.T) {
	root := shRoot(t)
	env := func(ns string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [` + ns + `]
    mounts:
      - {type: sysfs, target: /sys, readonly: false}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	_, err := compileLimits(t, env("mnt, pid, net"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "l.yaml:7:9: environments.web.mounts[0].readonly: a writable sysfs lets root inside change the host's kernel settings") {
		t.Errorf("a writable sysfs as root: %v", err)
	}
	if _, err := compileLimits(t, env("mnt, pid, net"), userCaller, "hybrid"); err != nil {
		t.Errorf("a writable sysfs in a user namespace (rootless): %v", err)
	}
	if _, err := compileLimits(t, strings.Replace(env("mnt, pid, net"), ", readonly: false", "", 1), rootCaller, "hybrid"); err != nil {
		t.Errorf("a read-only sysfs: %v", err)
	}
}

// TestKernelBinds: outside a user namespace, a bind of the host's /proc
// or /sys (or of what is below them, or of any kernel filesystem), or a
// recursive bind that brings one along, is refused, read-only or not:
// the tenth stop's review wrote a host knob through a bind of /sys once
// sysfs's own readonly: false was refused, and the host's sysctls through
// a bind of /proc (whose /proc/PID/root is the host's root, writable
// whatever the bind's flags). Other binds, and the same in a user
// namespace, are planned (but the host's proc: TestHostProcInUserNS).
func TestKernelBinds(t *testing.T) {
	root := shRoot(t)
	env := func(bind string) string { return bindAtX(root, "[mnt, pid, net]", bind) }
	for bind, want := range map[string]string{
		"source: /sys":                               "/sys is in the host's /sys",
		"source: /sys, readonly: true":               "/sys is in the host's /sys",
		"source: /proc, readonly: true":              "/proc is in the host's /proc",
		"source: /proc/sys":                          "/proc/sys is in the host's /proc",
		"source: /, recursive: true":                 "a recursive bind of / brings the host's",
		"source: /, recursive: true, readonly: true": "a recursive bind of / brings the host's",
		// Missing, made at apply (create: true): where it would be made.
		"source: /sys/fs/cgroup/pids/nsup-missing, create: true": "/sys/fs/cgroup/pids/nsup-missing is in the host's /sys",
	} {
		_, err := compileLimits(t, env(bind), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), "environments.web.mounts[0].source: "+want) {
			t.Errorf("%s: %v, want %q", bind, err, want)
		}
		if strings.Contains(want, "/proc") || strings.HasPrefix(want, "a recursive bind of /") {
			// The host's proc is refused in a user namespace too
			// (TestHostProcInUserNS).
			continue
		}
		if _, err := compileLimits(t, env(bind), userCaller, "hybrid"); err != nil {
			t.Errorf("%s in a user namespace (rootless): %v", bind, err)
		}
	}
	for _, bind := range []string{"source: /, recursive: false, readonly: true", "source: /usr, recursive: true", "source: " + root, "source: " + root + "/new/folder, create: true"} {
		if _, err := compileLimits(t, env(bind), rootCaller, "hybrid"); err != nil {
			t.Errorf("%s: %v", bind, err)
		}
	}
	// The host's own mount namespace joined by path: said.
	p, err := compileLimits(t, `version: 1
environments:
  web:
    rootfs: {dir: `+root+`}
    namespaces: [pid]
    join: {mnt: /proc/self/ns/mnt}
    processes: [{name: main, command: [/bin/sh]}]
`, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "environments.web.join.mnt: /proc/self/ns/mnt is the host's own mount namespace") {
		t.Errorf("no note of the host's mount namespace: %s", notes)
	}
	// The root is bound as the environment's /: the same (a review ran
	// in rootfs: {dir: /proc}, and wrote the host's core_pattern).
	for dir, want := range map[string]string{"/proc": "/proc is in the host's /proc", "/sys": "/sys is in the host's /sys"} {
		text := strings.Replace(env("source: "+root), "rootfs: {dir: "+root+"}", "rootfs: {dir: "+dir+", readonly: false}", 1)
		_, err := compileLimits(t, text, rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), "environments.web.rootfs.dir: "+want) {
			t.Errorf("rootfs.dir %s: %v, want %q", dir, err, want)
		}
	}
}

// TestMknodDevMounts: outside a user namespace, CAP_MKNOD with any mount
// whose device nodes work (the option dev, rootfs.dev) is refused, read-
// only or not: root inside would make a node of the host's disk or
// /dev/kmsg and open it, nsup having no device cgroup (the tenth stop's
// review, through an imported bundle). A later review made the node in a
// writable mount that shows the same files (a tmpfs the host mounted
// below a read-only root with rootfs.dev; a writable bind of a folder
// also bound read-only with dev) and opened it through the read-only
// one. Without MKNOD, or in a user namespace, it is planned.
func TestMknodDevMounts(t *testing.T) {
	root := shRoot(t)
	env := func(rootfs, mount, caps string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + rootfs + `}
    namespaces: [mnt, pid, net]
    security: {capabilities: {add: [` + caps + `]}}
    mounts:
      - ` + mount + `
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	tmp := "{type: tmpfs, target: /scratch}"
	for _, c := range []struct{ rootfs, mount, want string }{
		{"", "{type: tmpfs, target: /scratch, options: [dev]}", "environments.web.mounts[0].options: with CAP_MKNOD kept"},
		{"", "{type: bind, source: " + root + ", target: /x, options: [dev]}", "environments.web.mounts[0].options: with CAP_MKNOD kept"},
		{", readonly: false, dev: true", tmp, "environments.web.rootfs.dev: with CAP_MKNOD kept"},
		{", overlay: true, dev: true", tmp, "environments.web.rootfs.dev: with CAP_MKNOD kept"},
		// Read-only: the node is made in a writable mount of the same
		// files (a folder mounted below the root on the host, the
		// writable bind of the same folder) and opened through it.
		{", dev: true", tmp, "environments.web.rootfs.dev: with CAP_MKNOD kept"},
		{", readonly: true, dev: true", tmp, "environments.web.rootfs.dev: with CAP_MKNOD kept"},
		{"", "{type: bind, source: " + root + ", target: /x, readonly: true, options: [dev]}", "environments.web.mounts[0].options: with CAP_MKNOD kept"},
		{"", "{type: tmpfs, target: /scratch, readonly: true, options: [dev]}", "environments.web.mounts[0].options: with CAP_MKNOD kept"},
	} {
		_, err := compileLimits(t, env(c.rootfs, c.mount, "MKNOD"), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.rootfs, c.mount, err, c.want)
		}
		if _, err := compileLimits(t, env(c.rootfs, c.mount, "CHOWN"), rootCaller, "hybrid"); err != nil {
			t.Errorf("%s %s without MKNOD: %v", c.rootfs, c.mount, err)
		}
		if _, err := compileLimits(t, env(c.rootfs, c.mount, "MKNOD"), userCaller, "hybrid"); err != nil {
			t.Errorf("%s %s in a user namespace (rootless): %v", c.rootfs, c.mount, err)
		}
	}
	// Two binds of one folder, the writable one nodev: the node made
	// there opens through the read-only one with dev.
	twice := strings.Replace(env("", "{type: bind, source: "+root+", target: /w}", "MKNOD"), "    processes:",
		"      - {type: bind, source: "+root+", target: /x, readonly: true, options: [dev]}\n    processes:", 1)
	if _, err := compileLimits(t, twice, rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.web.mounts[1].options: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it through this mount") {
		t.Errorf("a writable bind and a read-only one with dev of one folder: %v", err)
	}
	// Nodes work nowhere: MKNOD is planned.
	if _, err := compileLimits(t, env("", tmp, "MKNOD"), rootCaller, "hybrid"); err != nil {
		t.Errorf("MKNOD, every mount nodev: %v", err)
	}
	// An environment that joins another's mount namespace keeping MKNOD:
	// the other's writable mounts where nodes work are its own (a review
	// made /dev/kmsg so); by path, they are not known.
	joiner := func(owner, join string) string {
		return `version: 1
environments:
  a:
    rootfs: {dir: ` + root + owner + `}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + owner + `}
    namespaces: [pid]
    join: {mnt: ` + join + `}
    security: {capabilities: {add: [MKNOD]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []struct{ owner, join, want string }{
		{", readonly: false, dev: true", "a", "environments.b.join.mnt: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it in the mounts of a where nodes work"},
		{", dev: true", "a", "environments.b.join.mnt: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it in the mounts of a where nodes work"},
		{"", "/proc/1/ns/mnt", "environments.b.join.mnt: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it in any writable folder of the mount namespace joined by path"},
	} {
		_, err := compileLimits(t, joiner(c.owner, c.join), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("b joins %s (%s): %v, want %q", c.join, c.owner, err, c.want)
		}
	}
	if _, err := compileLimits(t, joiner("", "a"), rootCaller, "hybrid"); err != nil {
		t.Errorf("b joins a, which has no mount where nodes work: %v", err)
	}
}

// TestUserNSMapsRootToRoot: a user namespace root makes with the default
// map ("0 0 1": root inside is the host's uid 0) confines none of what
// the checks that spare a user namespace are about: uid 0 passes the
// kernel's checks by uid of a sysctl or cgroup file (the tenth stop's
// fourth review wrote the host's core_pattern through a bind of /proc
// in such a namespace). One that maps root elsewhere does.
func TestUserNSMapsRootToRoot(t *testing.T) {
	root := shRoot(t, "/hostsys", "/sys")
	env := func(idmap, mount string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [user, mnt, pid, net]` + idmap + `
    mounts:
      - ` + mount + `
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	elsewhere := "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	for mount, want := range map[string]string{
		"{type: bind, source: /sys, target: /hostsys, recursive: false}": "/sys is in the host's /sys",
		"{type: sysfs, target: /sys, readonly: false}":                   "a writable sysfs lets root inside change the host's kernel settings",
	} {
		_, err := compileLimits(t, env("", mount), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with root's default map: %v, want %q", mount, err, want)
		}
		if _, err := compileLimits(t, env(elsewhere, mount), rootCaller, "hybrid"); err != nil {
			t.Errorf("%s with root mapped to 100000: %v", mount, err)
		}
	}
	// Its mounts, allowed for its user namespace, may not be entered
	// from another (the fifth review: b, joining a's mount namespace
	// only, wrote the host's core_pattern through a's bind of /proc,
	// since refused in a user namespace too: TestHostProcInUserNS).
	joiner := func(join string, ns ...string) string {
		return env(elsewhere, "{type: bind, source: /sys, target: /hostsys, recursive: false}") + `  b:
    rootfs: {dir: ` + root + `}
    namespaces: [` + strings.Join(append(ns, "pid"), ", ") + `]
    join: {` + join + `}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	_, err := compileLimits(t, joiner("mnt: web"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "environments.b.join.mnt: web's mounts are checked for its user namespace, where root is not the host's: entering them from another user namespace (the host's, here)") {
		t.Errorf("b joins web's mount namespace only: %v", err)
	}
	// From a user namespace of its own (with maps of its own): said so,
	// not "the host's" (helper-116's stop).
	_, err = compileLimits(t, joiner("mnt: web", "user")+elsewhere, rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "entering them from another user namespace (its own, here)") {
		t.Errorf("b joins web's mount namespace from its own user namespace: %v", err)
	}
	if _, err := compileLimits(t, joiner("mnt: web, user: web"), rootCaller, "hybrid"); err != nil {
		t.Errorf("b joins web's mount and user namespaces: %v", err)
	}
}

// TestReadonlyPathsKept: outside a user namespace that maps root
// elsewhere, readonly_paths may not leave a default read-only path of a
// proc mount writable (the tenth stop's fourth review wrote the host's
// core_pattern with readonly_paths: []); a folder above them keeps them.
func TestReadonlyPathsKept(t *testing.T) {
	root := shRoot(t)
	env := func(ns, ro string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [` + ns + `]
    security: {readonly_paths: ` + ro + `}
    mounts:
      - {type: proc, target: /proc}
      - {type: proc, target: /proc2}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	_, err := compileLimits(t, env("mnt, pid", "[]"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "environments.web.security.readonly_paths: leaves /proc/bus, /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger, /proc2/bus, /proc2/fs, /proc2/irq, /proc2/sys, /proc2/sysrq-trigger writable") {
		t.Errorf("readonly_paths: []: %v", err)
	}
	_, err = compileLimits(t, env("mnt, pid", "[/proc, /proc2/sys]"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "leaves /proc2/bus, /proc2/fs, /proc2/irq, /proc2/sysrq-trigger writable") {
		t.Errorf("readonly_paths: [/proc, /proc2/sys]: %v", err)
	}
	for _, ok := range []string{"[/proc, /proc2]", "[/proc/bus, /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger, /proc2, /x]"} {
		if _, err := compileLimits(t, env("mnt, pid", ok), rootCaller, "hybrid"); err != nil {
			t.Errorf("readonly_paths: %s: %v", ok, err)
		}
	}
	if _, err := compileLimits(t, env("mnt, pid", "[]"), userCaller, "hybrid"); err != nil {
		t.Errorf("readonly_paths: [] rootless (root inside is the user): %v", err)
	}
	// With SYS_ADMIN kept, root inside could unmount them anyway.
	if _, err := compileLimits(t, strings.Replace(env("mnt, pid", "[]"), "security: {", "security: {capabilities: {add: [SYS_ADMIN]}, ", 1), rootCaller, "hybrid"); err != nil {
		t.Errorf("readonly_paths: [] with SYS_ADMIN: %v", err)
	}
}

// shRoot is a dir rootfs with only /bin/sh (the planner's tests look
// the command up there; nothing runs it), and the folders targets.
func shRoot(t *testing.T, targets ...string) string {
	root := t.TempDir()
	os.MkdirAll(root+"/bin", 0o755)
	for _, d := range targets {
		// A mount's target, which root inside mapped elsewhere may not
		// make in the test's folder (targetMakeable).
		os.MkdirAll(root+d, 0o755)
	}
	os.WriteFile(root+"/bin/sh", []byte("#!"), 0o755)
	return root
}

// nodeRoot is shRoot with empty files at targets: a bind of a file or a
// device node needs one there, not a folder (targetKindFits), and root
// inside mapped elsewhere may not make it in the test's folder.
func nodeRoot(t *testing.T, targets ...string) string {
	root := shRoot(t)
	for _, f := range targets {
		os.WriteFile(root+f, nil, 0o644)
	}
	return root
}
