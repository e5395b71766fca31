package planner

import (
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

func compileLimits(t *testing.T, text string, caller Caller, layout string) (*Plan, error) {
	t.Helper()
	s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
	o.Cgroups = func() (*cgroup.Layout, error) {
		l, err := cgroup.Discover(os.DirFS("cgroup/testdata/" + layout))
		if err != nil {
			return nil, err
		}
		// The layout's NSUP_CGROUP_PARENT, if it has one.
		if p, err := os.ReadFile("cgroup/testdata/" + layout + "/parent"); err == nil {
			err = l.SetParent(strings.TrimSpace(string(p)))
		}
		return l, err
	}
	return Compile(s, o)
}

const limitsText = `version: 1
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, cgroup]
    LIMITS
    processes:
      - {name: main, command: [/bin/sh]}
`

// Rootless, limits are refused naming the key; without them the plan
// says there is no group.
func TestLimitsRootless(t *testing.T) {
	_, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M}", 1), userCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "l.yaml:6:5: environments.web.limits: rootless") {
		t.Fatalf("err = %v", err)
	}
	p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "", 1), userCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), "rootless: no cgroup of its own") {
		t.Errorf("notes: %q", p.Environments[0].Notes)
	}
	for _, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(CgroupMkdir); ok {
			t.Errorf("a rootless plan makes a group: %s", FormatOp(st.Op))
		}
	}
}

// Rootless, limits are planned where the user may write every file they
// take: a parent group in the user's delegated subtree (systemd's
// user@UID.service), which also holds nsup's own group; a parent outside
// it is refused, saying why.
func TestLimitsRootlessDelegated(t *testing.T) {
	user := userCaller
	user.CgroupWritable = func(p string) bool {
		return strings.HasPrefix(p, "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/")
	}
	text := strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M, cpu: 0.5}", 1)
	p, err := compileLimits(t, text, user, "v2-user")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range p.Environments[0].Steps {
		switch op := st.Op.(type) {
		case CgroupMkdir, CgroupWrite:
			got = append(got, FormatOp(op))
		case Clone:
			got = append(got, "clone into "+op.Cgroup)
		}
	}
	base := "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/nsup.slice"
	want := []string{
		`mkdir("` + base + `/nsup", 0755) if missing, then mkdir("` + base + `/nsup/web.$NSUP", 0755)`,
		`write("` + base + `/cgroup.subtree_control", "+cpu")`,
		`write("` + base + `/nsup/cgroup.subtree_control", "+memory")`,
		`write("` + base + `/nsup/cgroup.subtree_control", "+pids")`,
		`write("` + base + `/nsup/cgroup.subtree_control", "+cpu")`,
		`write("` + base + `/nsup/web.$NSUP/memory.max", "67108864")`,
		`write("` + base + `/nsup/web.$NSUP/memory.swap.max", "0")`, // no swap beyond it: the default
		`write("` + base + `/nsup/web.$NSUP/pids.max", "2048")`,
		`write("` + base + `/nsup/web.$NSUP/cpu.max", "50000 100000")`,
		"clone into " + base + "/nsup/web.$NSUP",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The same user, with a parent outside its subtree: the move from
	// its group to the parent's needs the root's cgroup.procs.
	user.CgroupWritable = func(p string) bool { return strings.HasPrefix(p, "/sys/fs/cgroup/nsup.slice/") }
	_, err = compileLimits(t, text, user, "v2-parent")
	if err == nil || !strings.Contains(err.Error(), "environments.web.limits: rootless (nsup runs without CAP_SYS_ADMIN): it may not move a process from its own group (/user.slice/user-0.slice/session-4.scope) to /sys/fs/cgroup/nsup.slice/nsup, as /sys/fs/cgroup/cgroup.procs is not its: run nsup itself in the subtree delegated to you") {
		t.Fatalf("err = %v", err)
	}

	// The parent's cgroup.subtree_control not the user's: cpu cannot be
	// handed down, and the plan says so rather than the run.
	user.CgroupWritable = func(p string) bool {
		return strings.HasPrefix(p, "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/") && p != base+"/cgroup.subtree_control"
	}
	_, err = compileLimits(t, text, user, "v2-user")
	if err == nil || !strings.Contains(err.Error(), "it may not write "+base+"/cgroup.subtree_control (+cpu)") {
		t.Fatalf("err = %v", err)
	}
}

// Where nsup's group hands no pids controller down, the default pids
// limit is left out and said; a pids limit written is refused.
func TestLimitsDefaultPidsWhereNone(t *testing.T) {
	p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "", 1), rootCaller, "v2-scope")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), "no pids limit (the default is 2048)") {
		t.Errorf("notes: %q", p.Environments[0].Notes)
	}
	_, err = compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {pids: 100}", 1), rootCaller, "v2-scope")
	if err == nil || !strings.Contains(err.Error(), "environments.web.limits.pids: no pids controller nsup may use here") {
		t.Fatalf("err = %v", err)
	}
}

// A memory limit without memory_swap holds for swap too (memsw on v1,
// swap.max 0 on v2), its step after the memory limit's; where the host
// does not account swap, the plan leaves it out and says so, and an
// explicit memory_swap is refused there, with what to do.
func TestLimitsDefaultSwap(t *testing.T) {
	text := strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M}", 1)
	for layout, want := range map[string]string{
		"v1":               "memory.limit_in_bytes=67108864 memory.memsw.limit_in_bytes=67108864",
		"v2-delegated":     "memory.max=67108864 memory.swap.max=0",
		"v1-noswap":        "memory.limit_in_bytes=67108864",
		"v2-parent-noswap": "memory.max=67108864",
	} {
		p, err := compileLimits(t, text, rootCaller, layout)
		if err != nil {
			t.Fatalf("%s: %v", layout, err)
		}
		var got []string
		for _, st := range p.Environments[0].Steps {
			if op, ok := st.Op.(CgroupWrite); ok && strings.HasPrefix(path.Base(op.Path), "memory.") && !strings.Contains(op.Path, ".kmem.") {
				got = append(got, path.Base(op.Path)+"="+op.Value)
			}
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%s: memory writes %q, want %q", layout, g, want)
		}
		notes := strings.Join(p.Environments[0].Notes, "\n")
		if noted := strings.Contains(notes, "no swap limit (without memory_swap, limits.memory holds for memory and swap together)"); noted != strings.HasSuffix(layout, "-noswap") {
			t.Errorf("%s: notes %q", layout, p.Environments[0].Notes)
		}
	}
	_, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M, memory_swap: unlimited}", 1), rootCaller, "v1-noswap")
	if err == nil || !strings.Contains(err.Error(), "l.yaml:6:") || !strings.Contains(err.Error(), "boot with swapaccount=1, or leave out memory_swap") {
		t.Fatalf("err = %v", err)
	}
}

// The child is born in every group: the creating thread joins each v1
// group before the clone and goes back to nsup's after it, and the clone
// makes the cgroup namespace (rooted in those groups).
func TestLimitsBornInGroups(t *testing.T) {
	for _, layout := range []string{"hybrid", "v1", "v2-delegated"} {
		p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M}", 1), rootCaller, layout)
		if err != nil {
			t.Fatal(err)
		}
		clone, joins, backs := -1, 0, 0
		for i, st := range p.Environments[0].Steps {
			switch op := st.Op.(type) {
			case Unshare:
				if op.Flags == nsFlag(spec.NSCgroup) {
					t.Errorf("%s: an unshare of the cgroup namespace", layout)
				}
			case Clone:
				clone = i
				if op.Flags&nsFlag(spec.NSCgroup) == 0 {
					t.Errorf("%s: the clone makes no cgroup namespace", layout)
				}
			case CgroupJoin:
				if clone < 0 && strings.Contains(op.Path, "/nsup/web.") {
					joins++
				} else if clone >= 0 && !strings.Contains(op.Path, "/nsup/") {
					backs++
				} else {
					t.Errorf("%s: step %d: %s", layout, i, FormatOp(op))
				}
			}
		}
		if joins != backs || (layout != "v2-delegated") != (joins > 0) {
			var b strings.Builder
			Render(&b, p)
			t.Errorf("%s: %d joins before the clone, %d back after:\n%s", layout, joins, backs, b.String())
		}
	}
}

// The generated hosts of two environments on one network (one joins the
// other's by name) name each other on the loopback; resolv.conf has the
// forwarder of network: user; a rootfs without the file gets a note, not
// a write.
func TestEtcFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(root+"/etc", 0o755)
	os.MkdirAll(root+"/bin", 0o755)
	os.WriteFile(root+"/bin/sh", []byte("#!"), 0o755)
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		os.WriteFile(root+f, nil, 0o644)
	}
	bare := t.TempDir()
	os.MkdirAll(bare+"/bin", 0o755)
	os.WriteFile(bare+"/bin/sh", []byte("#!"), 0o755)
	text := `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid, net]
    net: {network: user}
    processes: [{name: main, command: [/bin/sh]}]
  client:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    join: {net: web}
    processes: [{name: main, command: [/bin/sh]}]
  bare:
    rootfs: {dir: ` + bare + `}
    namespaces: [mnt, pid, net]
    net: {network: none}
    processes: [{name: main, command: [/bin/sh]}]
`
	p, err := compileLimits(t, text, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if f, ok := st.Op.(EtcFile); ok {
				files[e.Name+":"+f.Target] = f.Content
			}
		}
		if e.Name == "bare" && !strings.Contains(strings.Join(e.Notes, "\n"), "/etc/hosts not generated") {
			t.Errorf("bare's notes: %q", e.Notes)
		}
	}
	for k, want := range map[string]string{
		"web:/etc/hosts":          "127.0.0.1\tclient\n",
		"client:/etc/hosts":       "127.0.0.1\tweb\n",
		"web:/etc/resolv.conf":    "nameserver 169.254.1.1\n",
		"client:/etc/resolv.conf": "nameserver 169.254.1.1\n",
	} {
		if !strings.Contains(files[k], want) {
			t.Errorf("%s = %q, want it to hold %q", k, files[k], want)
		}
	}
	if _, ok := files["bare:/etc/hosts"]; ok {
		t.Errorf("bare's rootfs has no /etc/hosts, yet one is put there")
	}
}

// network: user without pasta, and rootless with a /dev/net/tun the user
// may not open, are plan errors naming the key and the fix.
func TestNetworkRefused(t *testing.T) {
	text := strings.Replace(strings.Replace(limitsText, "LIMITS", "net: {network: user}", 1), "[mnt, pid, cgroup]", "[mnt, pid, cgroup, net]", 1)
	old, oldTun := lookPasta, tunUsable
	defer func() { lookPasta, tunUsable = old, oldTun }()
	lookPasta = func() (string, error) { return "", os.ErrNotExist }
	_, err := compileLimits(t, text, rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "environments.web.net.network: network: user needs pasta, which is not installed (apt-get install passt)") {
		t.Errorf("without pasta: %v", err)
	}
	lookPasta = old
	tunUsable = func() bool { return false }
	_, err = compileLimits(t, text, userCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "chmod 0666 /dev/net/tun") {
		t.Errorf("rootless without /dev/net/tun: %v", err)
	}
}

// The attacker's review: generated files never cover a joined mount
// namespace's (the host's, with join mnt /proc/1/ns/mnt); a hostname that
// would break /etc/hosts's lines is left out of it; with CAP_NET_RAW or
// CAP_NET_ADMIN and no host_loopback, network: user is refused (raw
// packets for 127.0.0.1 reach the host's loopback through pasta); an
// address such as 0.0.0.0 goes to pasta as written.
func TestNetworkReview(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(root+"/etc", 0o755)
	os.MkdirAll(root+"/bin", 0o755)
	os.WriteFile(root+"/bin/sh", []byte("#!"), 0o755)
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		os.WriteFile(root+f, nil, 0o644)
	}
	env := func(extra string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
` + extra + `
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	etc := func(p *Plan) int {
		n := 0
		for _, st := range p.Environments[0].Steps {
			if _, ok := st.Op.(EtcFile); ok {
				n++
			}
		}
		return n
	}
	p, err := compileLimits(t, env("    namespaces: [net, pid]\n    join: {mnt: /proc/1/ns/mnt}\n    net: {network: user}"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if etc(p) != 0 {
		t.Errorf("files generated over a joined mount namespace's")
	}
	p, err = compileLimits(t, env("    namespaces: [mnt, pid, net, uts]\n    hostname: \"web\\n6.6.6.6\\tgithub.com\"\n    net: {network: none}"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Environments[0].Steps {
		if f, ok := st.Op.(EtcFile); ok && strings.Contains(f.Content, "github.com") {
			t.Errorf("a hostname broke /etc/hosts: %q", f.Content)
		}
	}
	_, err = compileLimits(t, env("    namespaces: [mnt, pid, net]\n    security: {capabilities: {add: [NET_ADMIN]}}\n    net: {network: user}"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "with CAP_NET_ADMIN kept, a process inside can reach the host's loopback") {
		t.Errorf("NET_ADMIN without host_loopback: %v", err)
	}
	if _, err = compileLimits(t, env("    namespaces: [mnt, pid, net]\n    security: {capabilities: {add: [NET_ADMIN]}}\n    net: {network: user, host_loopback: true}"), rootCaller, "hybrid"); err != nil {
		t.Errorf("NET_ADMIN with host_loopback: %v", err)
	}
	// The same for an environment that joins the network by name,
	// directly or through another joiner (the tenth stop's review: a
	// joiner with NET_RAW reached a host service on 127.0.0.1).
	joiner := func(owner, caps string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid, net]
    net: {network: user` + owner + `}
    processes: [{name: main, command: [/bin/sh]}]
  side:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    join: {net: web}
    processes: [{name: main, command: [/bin/sh]}]
  raw:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    join: {net: side}
    security: {capabilities: {add: [` + caps + `]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []string{"NET_RAW", "NET_ADMIN"} {
		_, err = compileLimits(t, joiner("", c), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), "environments.raw.join.net: with CAP_"+c+" kept, a process inside can reach the host's loopback through the pasta network of web") {
			t.Errorf("a joiner with %s without host_loopback: %v", c, err)
		}
		if _, err = compileLimits(t, joiner(", host_loopback: true", c), rootCaller, "hybrid"); err != nil {
			t.Errorf("a joiner with %s, host_loopback: %v", c, err)
		}
	}
	if _, err = compileLimits(t, joiner("", "SYS_CHROOT"), rootCaller, "hybrid"); err != nil {
		t.Errorf("a joiner without either: %v", err)
	}
	// By path, whose network it is is not known: a note.
	p, err = compileLimits(t, strings.Replace(joiner("", "NET_RAW"), "join: {net: side}", "join: {net: /proc/1/ns/net}", 1), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	var notes string
	for _, e := range p.Environments {
		notes += strings.Join(e.Notes, "\n")
	}
	if !strings.Contains(notes, "environments.raw.join.net: /proc/1/ns/net is joined by path with CAP_NET_RAW kept") {
		t.Errorf("no note of a path join with NET_RAW: %s", notes)
	}
	// Without a pid namespace of its own, a process inside could signal
	// pasta and its keeper (as root, or rootless: the same user).
	for _, c := range []Caller{rootCaller, userCaller} {
		_, err = compileLimits(t, env("    namespaces: [mnt, net, user]\n    net: {network: user}"), c, "hybrid")
		if err == nil || !strings.Contains(err.Error(), "network: user needs a pid namespace of the environment's") {
			t.Errorf("network: user without a pid namespace: %v", err)
		}
	}
	p, err = compileLimits(t, env("    namespaces: [mnt, pid, net]\n    net: {network: user, ports: [\"0.0.0.0:8080:80\"]}"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(Pasta); ok && !slices.Contains(op.Args, "0.0.0.0/8080:80") {
			t.Errorf("pasta's -t: %q", op.Args)
		}
	}
}

// Rootless, a published UDP port gets a plan note: Debian 12's pasta
// binds it with SO_REUSEADDR, another user may share it, and only root's
// apply takes the option off (helper-86's review). As root, and for TCP,
// no note.
func TestNetworkRootlessUDPNote(t *testing.T) {
	oldPasta, oldTun := lookPasta, tunUsable
	defer func() { lookPasta, tunUsable = oldPasta, oldTun }()
	lookPasta = func() (string, error) { return "/usr/bin/pasta", nil }
	tunUsable = func() bool { return true }
	for _, tc := range []struct {
		ports  string
		caller Caller
		note   bool
	}{{`["127.0.0.1:18053:53/udp"]`, userCaller, true}, {`["127.0.0.1:18053:53/udp"]`, rootCaller, false}, {`["127.0.0.1:18080:80"]`, userCaller, false}} {
		text := strings.Replace(strings.Replace(limitsText, "LIMITS", "net: {network: user, ports: "+tc.ports+"}", 1), "[mnt, pid, cgroup]", "[mnt, pid, cgroup, net]", 1)
		p, err := compileLimits(t, text, tc.caller, "hybrid")
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(p.Environments[0].Notes, "\n")
		if got := strings.Contains(notes, "environments.web.net.ports: rootless, a published UDP port may be shared"); got != tc.note {
			t.Errorf("%s, privileged %v: note %v, want %v:\n%s", tc.ports, tc.caller.Privileged, got, tc.note, notes)
		}
		// As root, the Pasta step says its UDP sockets are made the
		// port's alone (apply's exclusiveUDP): the plan is what apply does.
		exclusive := tc.caller.Privileged && strings.Contains(tc.ports, "/udp")
		var text2 string
		for _, st := range p.Environments[0].Steps {
			if _, ok := st.Op.(Pasta); ok {
				text2 = FormatOp(st.Op)
			}
		}
		if got := strings.Contains(text2, "setsockopt(SO_REUSEADDR, 0)"); got != exclusive || text2 == "" {
			t.Errorf("%s, privileged %v: the pasta step says SO_REUSEADDR is taken off: %v, want %v:\n%s", tc.ports, tc.caller.Privileged, got, exclusive, text2)
		}
	}
}
