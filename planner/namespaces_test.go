package planner

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsup/nsup/spec"
)

// TestNamespaceErrors: what cannot work is refused at plan time, every
// problem at once, naming the key: for a user without privilege what
// needs it, and for anyone what a joined or a user namespace rules out.
func TestNamespaceErrors(t *testing.T) {
	noHelpers := userCaller
	noHelpers.NewUIDMap, noHelpers.NewGIDMap = "", ""
	for _, tc := range []struct {
		name   string
		caller Caller
		src    string
		want   []string
	}{{
		name: "rootless-kernel-filesystems", caller: userCaller,
		src: `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    mounts:
      - {type: proc, target: /proc}
      - {type: sysfs, target: /sys}
      - {type: mqueue, target: /mq}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:7:9: environments.a.mounts[0]: proc in a user namespace needs a pid namespace of that user namespace: add pid to namespaces (mounting proc for the host's needs privilege)",
			"t.yaml:8:9: environments.a.mounts[1]: sysfs in a user namespace needs a net namespace of that user namespace: add net to namespaces (mounting sysfs for the host's needs privilege)",
			"t.yaml:9:9: environments.a.mounts[2]: mqueue in a user namespace needs a ipc namespace of that user namespace: add ipc to namespaces (mounting mqueue for the host's needs privilege)",
		},
	}, {
		name: "rootless-idmap-without-helpers", caller: noHelpers,
		src: `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt]
    idmap:
      uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 10}]
      gid: [{inside: 0, outside: 1000, count: 1}]
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{"t.yaml:7:7: environments.a.idmap.uid: maps more than your own uid (1000) without privilege: that needs newuidmap (Debian package uidmap), which is not installed"},
	}, {
		name: "rootless-idmap-beyond-grant", caller: userCaller,
		src: `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 165000, count: 1000}]
      gid: [{inside: 0, outside: 0, count: 1}]
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:7:51: environments.a.idmap.uid[1]: host uids 165000-165999 are not dev's to map: /etc/subuid grants it only 100000-165535 (newuidmap checks it)",
			"t.yaml:8:13: environments.a.idmap.gid[0]: host gids 0-0 are not dev's to map: /etc/subgid grants it only 100000-165535 (newgidmap checks it)",
		},
	}, {
		name: "rootless-joins", caller: userCaller,
		src: `version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, net]
    processes:
      - {name: main, command: [/bin/sh]}
  other:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, ipc]
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    join: {net: db, ipc: other, uts: /proc/1/ns/uts}
    processes:
      - {name: main, command: [/bin/sh]}
  own:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt]
    join: {net: db}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:16:26: environments.web.join.ipc: rootless (nsup runs without CAP_SYS_ADMIN): db and other are in different user namespaces, and an environment can be in one only",
			"t.yaml:16:38: environments.web.join.uts: rootless (nsup runs without CAP_SYS_ADMIN): a namespace given by path can be entered only from the user namespace that owns it: join that too (join: {user: /proc/PID/ns/user})",
			"t.yaml:22:17: environments.own.join.net: rootless (nsup runs without CAP_SYS_ADMIN): db's namespaces belong to its user namespace, which a new one cannot enter: remove user from namespaces (nsup then joins db's user namespace)",
		},
	}, {
		name: "unmapped-user", caller: rootCaller,
		src: `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    user: "1000:1000"
    processes:
      - {name: main, command: [/bin/sh]}
      - {name: side, command: [/bin/sh], user: "0:5"}
`,
		want: []string{
			"t.yaml:6:11: environments.a.user: 1000:1000 is not mapped in the new user namespace (uid map \"0 0 1\", gid map \"0 0 1\"): add it to idmap",
			"t.yaml:9:48: environments.a.processes[1].user: 0:5 is not mapped in the new user namespace (uid map \"0 0 1\", gid map \"0 0 1\"): add it to idmap",
		},
	}, {
		name: "joined-mnt-time-offsets", caller: rootCaller,
		src: `version: 1
environments:
  b:
    rootfs: {dir: /}
    namespaces: [user, time, pid]
    join: {mnt: /proc/1/ns/mnt}
    time: {monotonic: 100s}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{"t.yaml:7:11: environments.b.time: time offsets with a mount namespace joined from /proc/1/ns/mnt: they would be written through the /proc of that mount namespace, which root there controls: drop time, or the join of mnt"},
	}, {
		name: "joined-mnt", caller: rootCaller,
		src: `version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh, /bin/ls], overlay: true}
    namespaces: [pid]
    join: {mnt: db}
    mounts:
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:9:13: environments.web.rootfs.overlay: the mount namespace is joined (join.mnt: db) and used as it is: nsup mounts nothing in it; remove overlay",
			"t.yaml:9:13: environments.web.rootfs: the mount namespace is joined (join.mnt: db) and used as it is: the environment sees db's root, so its rootfs must be db's (the same dir, tar or closure)",
			"t.yaml:13:9: environments.web.mounts: the mount namespace is joined (join.mnt: db) and used as it is: nsup mounts nothing in it; remove mounts (or give the environment its own mnt namespace)",
		},
	}, {
		// Helper-69's review: dropped without a word, the paths were
		// as the joined namespace shows them (TestRootJoinedMountMaskDropped).
		name: "joined-mnt-confined-paths", caller: rootCaller,
		src: `version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [pid]
    join: {mnt: db}
    security: {masked_paths: [/data/secret, /etc/key], readonly_paths: [/etc]}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:12:30: environments.web.security.masked_paths: the mount namespace is joined (join.mnt: db) and used as it is: nsup mounts nothing in it, so /data/secret, /etc/key would stay as that namespace shows them; list them where that namespace is made (db), or give this one its own mnt namespace",
			"t.yaml:12:72: environments.web.security.readonly_paths: the mount namespace is joined (join.mnt: db) and used as it is: nsup mounts nothing in it, so /etc would stay as that namespace shows them; list them where that namespace is made (db), or give this one its own mnt namespace",
		},
	}, {
		// Helper-73's review: what db lists the same way is confined
		// there and plans; only the rest is refused.
		name: "joined-mnt-confined-paths-owner", caller: rootCaller,
		src: `version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    security: {masked_paths: [/data/secret], readonly_paths: [/etc]}
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [pid]
    join: {mnt: db}
    security: {masked_paths: [/data/secret, /etc/key], readonly_paths: [/etc/]}
    processes:
      - {name: main, command: [/bin/sh]}
`,
		want: []string{
			"t.yaml:13:30: environments.web.security.masked_paths: the mount namespace is joined (join.mnt: db) and used as it is: nsup mounts nothing in it, so /etc/key would stay as that namespace shows them; list them where that namespace is made (db), or give this one its own mnt namespace",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			caller := tc.caller
			_, err = Compile(s, fixedOptions(Options{Caller: &caller}))
			if err == nil {
				t.Fatal("planned")
			}
			if d := cmp.Diff(strings.Join(tc.want, "\n"), err.Error()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestRootlessPlan: a user without privilege gets a user namespace of
// its own (new, or the one of the environment it joins), maps written as
// an unprivileged writer must, and processes that keep their groups.
func TestRootlessPlan(t *testing.T) {
	s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(`version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, net]
    init: false
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    join: {net: db}
    processes:
      - {name: main, command: [/bin/sh]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, fixedOptions(Options{Caller: &userCaller}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			switch op := st.Op.(type) {
			case Rootfs, Execve, Mount, Chdir, PivotRoot, Umount2, Capset, Prctl, CloseRange, LinkUp, Setsid, MountSetattr, Keyctl, Prlimit, Seccomp, InheritCaps, CapbsetDrop:
			case Spawn:
				got = append(got, e.Name+" spawn "+op.Process)
			default:
				got = append(got, e.Name+" "+st.Stage.String()+" "+FormatOp(op))
			}
		}
	}
	want := []string{
		"db host clone3({flags=CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET, exit_signal=SIGCHLD}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
		`db host write("/proc/$CHILD/setgroups", "deny")`,
		`db host write("/proc/$CHILD/uid_map", "0 1000 1\n")`,
		`db host write("/proc/$CHILD/gid_map", "0 1000 1\n")`,
		// Rootless in the host's pid namespace: signals scoped.
		"db child landlock_restrict_self(landlock_create_ruleset({.scoped = LANDLOCK_SCOPE_SIGNAL}), 0)",
		// init: false without setgroups: denied
		"db proc setresgid(0, 0, 0)",
		"db proc setresuid(0, 0, 0)",
		"web host fork()",
		`web fork setns("/proc/$db/ns/user", CLONE_NEWUSER)`,
		`web fork setns("/proc/$db/ns/net", CLONE_NEWNET)`,
		"web fork clone3({flags=CLONE_NEWNS|CLONE_PARENT, exit_signal=0}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setgroups(0, NULL) (EPERM where denied: groups kept), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
		"web child landlock_restrict_self(landlock_create_ruleset({.scoped = LANDLOCK_SCOPE_SIGNAL}), 0)",
		// nsup's init (no pid namespace of its own): no setgroups either
		"web spawn main",
		"web proc setresgid(0, 0, 0)",
		"web proc setresuid(0, 0, 0)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestRootlessPodPlan: detached and rootless, a pod's holder holds a user
// namespace with the pod's network (a user may make a network namespace
// only in a user namespace of its own), mapped as a rootless
// environment's is: the pod's owner and its members join both from the
// holder, and nothing writes maps for them. An environment that could
// not own such a pod (id maps that need a helper here) keeps the rule before
// pods, and a note says what a restart of it does.
func TestRootlessPodPlan(t *testing.T) {
	s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(`version: 1
name: p
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, net, uts]
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    join: {net: db, uts: db}
    processes:
      - {name: main, command: [/bin/sh]}
  solo:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, ipc]
    idmap:
      uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 10}]
      gid: [{inside: 0, outside: 1000, count: 1}]
    processes:
      - {name: main, command: [/bin/sh]}
  peer:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    join: {ipc: solo}
    processes:
      - {name: main, command: [/bin/sh]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, fixedOptions(Options{Caller: &userCaller, Detach: true, StateDir: "/run/user/1000/nsup"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			switch op := st.Op.(type) {
			case Hold, Setns, Clone, UIDMap, GIDMap, DenySetgroups, Fork:
				got = append(got, e.Name+" "+st.Stage.String()+" "+FormatOp(op))
			}
		}
	}
	want := []string{
		`db host clone(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWUTS), uid_map "0 1000 1", setgroups deny, gid_map "0 1000 1" of nsup's holder of pod "db", unless "/run/user/1000/nsup/p/.pods/db.json" names one that runs; it: setsid(), chdir("/"), execve(nsup, no environment), prctl(PR_SET_NAME, "nsup-pod"), prctl(PR_SET_DUMPABLE, 0), on every thread prctl(PR_SET_NO_NEW_PRIVS, 1), prctl(PR_CAPBSET_DROP) of all but CAP_SYS_PTRACE, capset(CAP_SYS_PTRACE); at the state step, with the child in its namespaces, the record still naming that holder (under the record's lock), else the step fails`,
		"db host fork()",
		`db fork setns("/proc/$pod:db/ns/user", CLONE_NEWUSER)`,
		`db fork setns("/proc/$pod:db/ns/net", CLONE_NEWNET)`,
		`db fork setns("/proc/$pod:db/ns/uts", CLONE_NEWUTS)`,
		"db fork clone3({flags=CLONE_NEWNS|CLONE_PARENT, exit_signal=0}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setgroups(0, NULL) (EPERM where denied: groups kept), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
		`web host clone(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWUTS), uid_map "0 1000 1", setgroups deny, gid_map "0 1000 1" of nsup's holder of pod "db", unless "/run/user/1000/nsup/p/.pods/db.json" names one that runs; it: setsid(), chdir("/"), execve(nsup, no environment), prctl(PR_SET_NAME, "nsup-pod"), prctl(PR_SET_DUMPABLE, 0), on every thread prctl(PR_SET_NO_NEW_PRIVS, 1), prctl(PR_CAPBSET_DROP) of all but CAP_SYS_PTRACE, capset(CAP_SYS_PTRACE); at the state step, with the child in its namespaces, the record still naming that holder (under the record's lock), else the step fails`,
		"web host fork()",
		`web fork setns("/proc/$pod:db/ns/user", CLONE_NEWUSER)`,
		`web fork setns("/proc/$pod:db/ns/net", CLONE_NEWNET)`,
		`web fork setns("/proc/$pod:db/ns/uts", CLONE_NEWUTS)`,
		"web fork clone3({flags=CLONE_NEWNS|CLONE_PARENT, exit_signal=0}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setgroups(0, NULL) (EPERM where denied: groups kept), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
		"solo host fork()",
		"solo fork clone3({flags=CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWIPC|CLONE_PARENT, exit_signal=0}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
		`solo host write("/proc/$CHILD/setgroups", "deny")`,
		`solo host newidmap("/usr/bin/newuidmap", $CHILD, "0 1000 1\n1 100000 10\n")`,
		`solo host write("/proc/$CHILD/gid_map", "0 1000 1\n")`,
		"peer host fork()",
		`peer fork setns("/proc/$solo/ns/user", CLONE_NEWUSER)`,
		`peer fork setns("/proc/$solo/ns/ipc", CLONE_NEWIPC)`,
		"peer fork clone3({flags=CLONE_NEWNS|CLONE_PARENT, exit_signal=0}); child: prctl(PR_SET_PDEATHSIG, SIGKILL), setgroups(0, NULL) (EPERM where denied: groups kept), setresgid(0, 0, 0), setresuid(0, 0, 0), prctl(PR_SET_PDEATHSIG, SIGKILL)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	notes := map[string]string{}
	for _, e := range p.Environments {
		notes[e.Name] = strings.Join(e.Notes, "\n")
	}
	if !strings.Contains(notes["solo"], "no holder holds what peer join") || strings.Contains(notes["db"], "no holder") ||
		!strings.Contains(notes["db"], "its user namespace (uid_map \"0 1000 1\", gid_map \"0 1000 1\") is held by the pod's holder") {
		t.Errorf("notes: %q", notes)
	}
}

// TestJoinedMountSameConfinedPaths (helper-73's review): an environment
// joining another's mount namespace with the same security lists plans:
// its masked and read-only paths are that namespace's, confined where it
// is made. Refused before.
func TestJoinedMountSameConfinedPaths(t *testing.T) {
	s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(`version: 1
environments:
  db:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    security: {masked_paths: [/data/secret], readonly_paths: [/etc]}
    processes:
      - {name: main, command: [/bin/sh]}
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [pid]
    join: {mnt: db}
    security: {masked_paths: [/data/secret], readonly_paths: [/etc]}
    processes:
      - {name: main, command: [/bin/sh]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(s, fixedOptions(Options{Caller: &rootCaller})); err != nil {
		t.Fatal(err)
	}
}
