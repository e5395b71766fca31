package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestLiftedReadonlyGuards: root inside that keeps CAP_SYS_ADMIN in a
// user namespace lifts a read-only bind's flag (mount -o
// remount,bind,rw) and unmounts the read-only bind put over a spec file.
// Before helper-124's review a read-only bind of the project folder so
// planned with a note, and root inside appended to nsup.yaml; b, joining
// a's user and mount namespaces with SYS_ADMIN, unmounted the bind a's
// plan put over nsup.yaml (a's bind writable) and wrote it; and nsup plan
// -o saved a plan in that folder. The checks of a writable mount hold
// for them: refused, at the mount or at b's capability; without
// SYS_ADMIN or a user namespace they plan as before.
func TestLiftedReadonlyGuards(t *testing.T) {
	const own = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    mounts:
      - {type: bind, source: ., target: /proj, readonly: true}
    processes:
      - {name: main, command: [/bin/sh]}
`
	const joined = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    mounts:
      - {type: bind, source: ., target: /proj}
    processes:
      - {name: main, command: [/bin/sh]}
  b:
    rootfs: {dir: ./rootfs}
    join: {user: a, mnt: a}
    namespaces: [pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes:
      - {name: main, command: [/bin/sh]}
`
	const lifts = "lifts that flag: mount -o remount,bind,rw; drop SYS_ADMIN)"
	for _, c := range []struct {
		name, yaml string
		caller     Caller
		want       string // "" plans
	}{
		{"readonly bind", own, rootCaller, "t.yaml:8:9: environments.a.mounts[0]: "},
		{"readonly bind, rootless", strings.Replace(own, "[user, mnt, pid]", "[mnt, pid]", 1), userCaller, "t.yaml:8:9: environments.a.mounts[0]: "},
		{"readonly dir root", strings.Replace(strings.Replace(own, "{dir: ./rootfs}", "{dir: .}", 1), "    mounts:\n      - {type: bind, source: ., target: /proj, readonly: true}\n", "", 1), rootCaller, "t.yaml:4:19: environments.a.rootfs.dir: "},
		{"joined, writable bind", joined, rootCaller, "t.yaml:14:37: environments.b.security.capabilities.add: "},
		{"joined, readonly bind", strings.Replace(joined, "target: /proj}", "target: /proj, readonly: true}", 1), rootCaller, "t.yaml:14:37: environments.b.security.capabilities.add: "},
		{"no SYS_ADMIN", strings.Replace(own, "SYS_ADMIN", "NET_ADMIN", 1), rootCaller, ""},
		{"no user namespace", strings.Replace(own, "[user, mnt, pid]", "[mnt, pid]", 1), rootCaller, ""},
		{"joined, no SYS_ADMIN", strings.Replace(joined, "SYS_ADMIN", "NET_ADMIN", 1), rootCaller, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755)
			os.WriteFile(filepath.Join(dir, "rootfs", "bin", "sh"), []byte("#!"), 0o755)
			os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
			os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
			file := filepath.Join(dir, "t.yaml")
			if err := os.WriteFile(file, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := spec.Parse(file)
			if err != nil {
				t.Fatal(err)
			}
			s.File = "t.yaml"
			caller := c.caller
			p, err := Compile(s, fixedOptions(Options{Caller: &caller, CacheDir: "/var/cache/nsup"}))
			switch {
			case c.want == "" && err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec"):
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want+file+", which nsup reads to plan this spec")):
				t.Errorf("plan: %v, want %q", err, c.want)
			case c.want != "" && !strings.Contains(err.Error(), "drop SYS_ADMIN"):
				t.Errorf("plan: %v, want a way out", err)
			}
			if c.name == "readonly bind" && (err == nil || !strings.Contains(err.Error(), lifts)) {
				t.Errorf("plan: %v, want %q", err, lifts)
			}
			if c.name == "no SYS_ADMIN" && p != nil {
				if f, _ := p.WritableHolding(filepath.Join(dir, "plan.json")); f != "" {
					t.Errorf("a saved plan refused in %s", f)
				}
			}
		})
	}
}

// TestLiftedReadonlyWritable: a folder of a read-only bind whose flag
// root inside lifts is one the environment may write: nsup plan -o
// refuses to save a plan there (WritableHolding), where root inside
// would put the plan of a spec of its own.
func TestLiftedReadonlyWritable(t *testing.T) {
	dir := t.TempDir()
	yaml := `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    mounts:
      - {type: bind, source: ` + dir + `, target: /mnt, readonly: true}
    processes:
      - {name: main, command: [/bin/sh]}
`
	// b lifts a's flags: joining a's user (and mount) namespace, with
	// SYS_ADMIN kept there (helper-129's review: a plan was saved in the
	// folder); in a user namespace of its own it lifts none of a's.
	aOnly := strings.Replace(yaml, "    security: {capabilities: {add: [SYS_ADMIN]}}\n", "", 1)
	b := func(join string) string {
		return aOnly + "  b:\n    rootfs: {dir: ./rootfs}\n" + join + "    security: {capabilities: {add: [SYS_ADMIN]}}\n    processes:\n      - {name: main, command: [/bin/sh]}\n"
	}
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"SYS_ADMIN", yaml, dir},
		{"no SYS_ADMIN", strings.Replace(yaml, "SYS_ADMIN", "NET_ADMIN", 1), ""},
		{"joined by b", b("    join: {user: a, mnt: a}\n    namespaces: [pid]\n"), dir},
		{"user joined by b", b("    join: {user: a}\n    namespaces: [mnt, pid]\n"), dir},
		{"b's own user namespace", b("    namespaces: [user, mnt, pid]\n"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := compileText(t, c.yaml, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f, _ := p.WritableHolding(filepath.Join(dir, "plan.json")); f != c.want {
				t.Errorf("WritableHolding: %q, want %q", f, c.want)
			}
		})
	}
}

// TestLiftedDevNodeRefused: in a user namespace that maps root to the
// host's (no idmap, as root), root inside that keeps SYS_ADMIN lifts the
// read-only flag of a bind of a host's device node, or of a folder of
// them, and chmods or links the host's nodes (helper-124's review: a
// node made 0600 on the host was 0666 after). devWritable refuses them
// as it refuses writable ones; without SYS_ADMIN they plan.
func TestLiftedDevNodeRefused(t *testing.T) {
	root, node := shRoot(t, "/x"), nodeRoot(t, "/x")
	const sysAdmin = "    security: {capabilities: {add: [SYS_ADMIN]}}\n"
	for _, c := range []struct{ name, bind, more, want string }{
		{"node", "source: /dev/null, readonly: true", sysAdmin, "environments.web.mounts[0].readonly: /dev/null is a device node of the host's: root inside would change it"},
		{"folder", "source: /dev, readonly: true", sysAdmin, "environments.web.mounts[0].readonly: /dev is a folder of the host's /dev: root inside would change the host's device nodes"},
		{"node, no SYS_ADMIN", "source: /dev/null, readonly: true", "", ""},
		{"folder, no SYS_ADMIN", "source: /dev, readonly: true", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rootfs := root
			if strings.HasPrefix(c.bind, "source: /dev/null") {
				rootfs = node // one node is bound on a file
			}
			_, err := compileMounts(t, bindAtX(rootfs, "[user, mnt, pid, net]", c.bind)+c.more, rootCaller, "")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), liftedWhy)):
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

// TestLiftedMountsMovable: a bind of a folder with a host mount below a
// folder of its own lets root inside rename that folder, and move the
// host's mount on the host, where it may write (TestMountsMovable);
// read-only, it may not, unless it keeps SYS_ADMIN in a user namespace
// and lifts the flag (helper-124's review: done by hand, the host's
// tmpfs at d/hidden was at d2/hidden after).
func TestLiftedMountsMovable(t *testing.T) {
	dir := movableRoot(t, "d/hidden")
	extra := "999 1 0:99 / " + dir + "/d/hidden rw,relatime - tmpfs tmpfs rw\n"
	text := `version: 1
environments:
  b:
    rootfs: {dir: ` + dir + `}
    namespaces: [user, mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    mounts:
      - {type: bind, source: ` + dir + `, target: /w, readonly: true}
    processes:
      - name: main
        command: [/bin/sh]
`
	want := "lets root inside rename " + dir + "/d, a folder above the host's mount at " + dir + "/d/hidden"
	for _, c := range []struct {
		name, yaml string
		refused    bool
	}{
		{"SYS_ADMIN", text, true},
		{"no SYS_ADMIN", strings.Replace(text, "SYS_ADMIN", "NET_ADMIN", 1), false},
		{"writable", strings.Replace(text, ", readonly: true}", "}", 1), true},
	} {
		_, err := compileMounts(t, c.yaml, rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), want)
		if refused != c.refused {
			t.Errorf("%s: refused %v, want %v: %v", c.name, refused, c.refused, err)
		}
	}
}

// TestLiftedJoinedMounts: b, joining a's user and mount namespaces with
// SYS_ADMIN kept (a without it), lifts the read-only flags of a's
// binds: a's read-only bind of a host's device node, or of a folder
// above a host's mount, is refused at b's capability as a writable one
// of b's own would be; a read-only dir root above a host's mount too,
// b's or its own (helper-124's review).
func TestLiftedJoinedMounts(t *testing.T) {
	dir := movableRoot(t, "d/hidden")
	os.MkdirAll(dir+"/x", 0o755)
	extra := "999 1 0:99 / " + dir + "/d/hidden rw,relatime - tmpfs tmpfs rw\n"
	joined := func(bind, rootfs, more string) string {
		return `version: 1
environments:
  a:
    rootfs: {dir: ` + rootfs + `}
    namespaces: [user, mnt, pid]
    mounts:
      - {type: bind, target: /x, ` + bind + `}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + rootfs + `}
    join: {user: a, mnt: a}
    namespaces: [pid]
    security: {capabilities: {add: [` + more + `]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	plain, node := movableRoot(t, "x"), nodeRoot(t, "/x") // node: one node is bound on a file
	const at = "environments.b.security.capabilities.add: "
	for _, c := range []struct{ name, yaml, want string }{
		{"node", joined("source: /dev/null, readonly: true", node, "SYS_ADMIN"), at + "/dev/null is a device node of the host's"},
		{"movable", joined("source: "+dir+", readonly: true", plain, "SYS_ADMIN"), at + "a writable bind of " + dir + " lets root inside rename " + dir + "/d"},
		{"dir root", joined("source: /tmp, readonly: true", dir, "SYS_ADMIN"), at + "a writable bind of " + dir + " lets root inside rename " + dir + "/d"},
		{"node, no SYS_ADMIN", joined("source: /dev/null, readonly: true", node, "NET_ADMIN"), ""},
		{"movable, no SYS_ADMIN", joined("source: "+dir+", readonly: true", plain, "NET_ADMIN"), ""},
		// SYS_ADMIN in a user namespace of b's own, not the one that owns
		// a's mount namespace (the host's): it lifts nothing there.
		{"node, b's own user namespace", strings.Replace(strings.Replace(joined("source: /dev/null, readonly: true", node, "SYS_ADMIN"), "[user, mnt, pid]", "[mnt, pid]", 1), "join: {user: a, mnt: a}\n    namespaces: [pid]", "join: {mnt: a}\n    namespaces: [user, pid]", 1), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileMounts(t, c.yaml, rootCaller, extra)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "in a's mount namespace, which this environment joins")):
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
	// Its own read-only dir root, with SYS_ADMIN.
	own := strings.Replace(joined("source: /tmp, readonly: true", dir, "SYS_ADMIN"), "    namespaces: [user, mnt, pid]\n", "    namespaces: [user, mnt, pid]\n    security: {capabilities: {add: [SYS_ADMIN]}}\n", 1)
	_, err := compileMounts(t, own, rootCaller, extra)
	if want := "environments.a.rootfs.dir: a writable bind of " + dir + " lets root inside rename " + dir + "/d"; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), liftedWhy) {
		t.Errorf("a's read-only dir root, SYS_ADMIN: %v, want %q", err, want)
	}
}

// TestLiftedJoinedNoted: b, joining a's mount namespace with SYS_ADMIN
// kept in a user namespace (a without), is noted as its own read-only
// mounts are (TestReadonlyLiftNoted): before helper-124's review b's
// plan said nothing of a's read-only binds it lifts.
func TestLiftedJoinedNoted(t *testing.T) {
	const text = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    mounts:
      - {type: bind, source: /tmp, target: /mnt, readonly: true}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ./rootfs}
    join: {user: a, mnt: a}
    namespaces: [pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	const want = "environments.b.security.capabilities.add: CAP_SYS_ADMIN kept in a user namespace: root inside may lift the read-only flag of the root ("
	const binds = "/rootfs), /mnt (a bind of /tmp) (a's, whose mount namespace it joins) (mount -o remount,bind,rw)"
	for _, c := range []struct {
		name, yaml string
		noted      bool
	}{
		{"SYS_ADMIN", text, true},
		{"no SYS_ADMIN", strings.Replace(text, "SYS_ADMIN", "NET_ADMIN", 1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := compileText(t, c.yaml, Options{})
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(envNotes(p, "b"), "\n")
			if got := strings.Contains(notes, want) && strings.Contains(notes, binds); got != c.noted {
				t.Errorf("noted %v, want %v:\n%s", got, c.noted, notes)
			}
		})
	}
}

func envNotes(p *Plan, env string) []string {
	for _, e := range p.Environments {
		if e.Name == env {
			return e.Notes
		}
	}
	return nil
}
