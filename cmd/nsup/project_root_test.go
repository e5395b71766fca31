package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rootTestDirs is a root test's folder, with nsup's cache and state
// directory in it (cache/, state/), and the host checked when it ends.
func rootTestDirs(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	return dir
}

const projectSpec = `version: 1
environments:
  app:
    rootfs: {closure: [/bin/sh, /bin/sleep, /bin/cat]}
    namespaces: [mnt, pid, uts]
    hostname: app
    mounts: [{type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`

// Two clones of one project, in folders of different names, run app side
// by side: each is its folder's project, with a state, a lock, a log and
// groups of its own; the lifecycle commands find which one is meant.
func TestRootProjects(t *testing.T) {
	dir := rootTestDirs(t)
	state := filepath.Join(dir, "state")
	one, two := filepath.Join(dir, "Clone_One"), filepath.Join(dir, "clone-two")
	for _, d := range []string{one, two} {
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "nsup.yaml"), []byte(projectSpec), 0o644)
	}
	t.Cleanup(func() {
		t.Chdir(dir)
		nsup(t, "down", "clone-one/app", "clone-two/app")
		nsup(t, "down", "-p", "third", "app")
	})
	t.Chdir(dir)
	for _, d := range []string{one, two} {
		if code, out, errs := nsup(t, "apply", "-d", filepath.Join(d, "nsup.yaml")); code != 0 {
			t.Fatalf("apply -d %s: %d %s %s", d, code, out, errs)
		}
	}
	// The same spec a third time, as another project by -p.
	if code, _, errs := nsup(t, "apply", "-d", "-p", "third", filepath.Join(one, "nsup.yaml")); code != 0 {
		t.Fatalf("apply -d -p third: %d %s", code, errs)
	}
	// A second apply -d of one project's app is refused, as before.
	if code, _, errs := nsup(t, "apply", "-d", filepath.Join(two, "nsup.yaml")); code == 0 || !strings.Contains(errs, `"app" is already running`) {
		t.Errorf("a second apply -d in one project: %d %s", code, errs)
	}
	ents, _ := os.ReadDir(state)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "clone-one clone-two third" {
		t.Errorf("state directory: %v, want a folder per project", names)
	}

	// No nsup.yaml here: ps shows every project.
	code, out, _ := nsup(t, "ps", "--json")
	var entries []psEntry
	json.Unmarshal([]byte(out), &entries)
	pids := map[string]int{}
	for _, e := range entries {
		if e.Name == "app" && e.Running {
			pids[e.Project] = e.Pid
		}
	}
	if code != 0 || len(pids) != 3 || pids["clone-one"] == pids["clone-two"] {
		t.Fatalf("ps: %d %v\n%s", code, pids, out)
	}
	// Which app, with three: an error that lists them (exit 1).
	code, _, errs := nsup(t, "exec", "app", "--", "/bin/cat", "/proc/sys/kernel/hostname")
	if code != 1 || !strings.Contains(errs, `"app" is in 3 projects (clone-one/app, clone-two/app, third/app)`) {
		t.Errorf("exec app with three: %d %s", code, errs)
	}
	// A typo: an error naming the nearest, exit 1; nothing taken down.
	code, _, errs = nsup(t, "down", "ap")
	if code != 1 || !strings.Contains(errs, `no detached environment "ap": did you mean app?`) {
		t.Errorf("down ap: %d %s", code, errs)
	}
	// In a clone's folder (or below it), its project is meant.
	sub := filepath.Join(one, "src")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	code, out, _ = nsup(t, "ps")
	if code != 0 || !strings.Contains(out, "clone-one") || strings.Contains(out, "clone-two") {
		t.Errorf("ps in clone one: %d\n%s", code, out)
	}
	if code, out, _ = nsup(t, "ps", "--all"); !strings.Contains(out, "clone-two") || !strings.Contains(out, "third") {
		t.Errorf("ps --all: %d\n%s", code, out)
	}
	code, out, errs = nsup(t, "exec", "app", "--", "/bin/cat", "/proc/sys/kernel/hostname")
	if code != 0 || !strings.HasSuffix(out, "app\n") {
		t.Errorf("exec in clone one: %d %q %s", code, out, errs)
	}
	code, _, errs = nsup(t, "logs", "apq")
	if code != 1 || !strings.Contains(errs, `in project clone-one (`+filepath.Join(one, "nsup.yaml")+`'s): did you mean app?`) {
		t.Errorf("logs apq: %d %s", code, errs)
	}
	// down with no argument: this folder's project, and only it.
	code, out, errs = nsup(t, "down")
	if code != 0 || !strings.Contains(out, "clone-one/app: stopped") {
		t.Errorf("down in clone one: %d %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(state, "clone-one")); !os.IsNotExist(err) {
		t.Errorf("clone-one's folder is left after its last environment went down: %v", err)
	}
	t.Chdir(dir)
	code, _, errs = nsup(t, "exec", "clone-one/app", "--", "/bin/true")
	if code != 1 || !strings.Contains(errs, `no detached environment "app" in project clone-one`) ||
		!strings.Contains(errs, "project clone-two has one: nsup exec clone-two/app") {
		t.Errorf("exec clone-one/app once down: %d %s", code, errs)
	}
	// The others still run; PROJECT/ENV and -p name them.
	if code, out, errs := nsup(t, "exec", "--project", "third", "app", "--", "/bin/cat", "/proc/sys/kernel/hostname"); code != 0 || out != "app\n" {
		t.Errorf("exec --project third: %d %q %s", code, out, errs)
	}
	if code, out, errs := nsup(t, "down", "clone-two/app", "-p", "third"); code != 0 || !strings.Contains(out, "clone-two/app: stopped") {
		t.Errorf("down clone-two/app: %d %s %s", code, out, errs)
	}
	if code, out, errs := nsup(t, "down", "-p", "third"); code != 0 || !strings.Contains(out, "third/app: stopped") {
		t.Errorf("down -p third: %d %s %s", code, out, errs)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("state directory not empty: %v", ents)
	}
}

const volumeProjectSpec = `version: 1
name: vols
volumes:
  data:
environments:
  app:
    rootfs: {closure: [/bin/sh, /bin/sleep, /bin/cat]}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: data, target: /data}
    processes:
      - {name: main, command: [/bin/sh, -c, 'cat /data/x || echo none; echo kept > /data/x; exec sleep 1000']}
`

// A volume keeps a file across down and apply -d, is listed with who
// uses it, is not removed while in use, and goes with down --volumes.
func TestRootVolumeLifecycle(t *testing.T) {
	dir := rootTestDirs(t)
	vols := filepath.Join(dir, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(volumeProjectSpec), 0o644)
	t.Chdir(dir)
	t.Cleanup(func() { nsup(t, "down", "--volumes") })
	logs := func(want string) string { return logsUntil(t, "app", want) }
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	if out := logs("none\n"); !strings.HasSuffix(out, "none\n") {
		t.Errorf("first run's log: %q", out)
	}
	code, out, _ := nsup(t, "volume", "ls")
	vol := filepath.Join(vols, "vols", "data")
	if code != 0 || !strings.Contains(squeeze(out), "vols data 5 vols/app "+vol) {
		t.Errorf("volume ls: %d\n%s", code, out)
	}
	if code, _, errs := nsup(t, "volume", "rm", "data"); code != 1 || !strings.Contains(errs, "volume vols/data: in use by vols/app: kept") {
		t.Errorf("volume rm in use: %d %s", code, errs)
	}
	if code, _, errs := nsup(t, "volume", "rm", "dta"); code != 1 || !strings.Contains(errs, `project vols has no volume "dta": did you mean data?`) {
		t.Errorf("volume rm dta: %d %s", code, errs)
	}
	if code, _, errs := nsup(t, "down"); code != 0 {
		t.Fatalf("down: %d %s", code, errs)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "x")); err != nil || string(b) != "kept\n" {
		t.Errorf("after down, the volume holds %q %v", b, err)
	}
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d again: %d %s", code, errs)
	}
	if out := logs("kept\n"); out != "kept\n" {
		t.Errorf("second run's log: %q", out)
	}
	if code, _, errs := nsup(t, "down", "app", "--volumes"); code != 2 || !strings.Contains(errs, "--volumes takes a whole project down") {
		t.Errorf("down app --volumes: %d %s", code, errs)
	}
	code, out, errs := nsup(t, "down", "--volumes")
	if code != 0 || !strings.Contains(out, "vols/app: stopped") || !strings.Contains(out, "volume vols/data: removed") {
		t.Errorf("down --volumes: %d %s %s", code, out, errs)
	}
	if _, err := os.Lstat(filepath.Join(vols, "vols")); !os.IsNotExist(err) {
		t.Errorf("the project's volume folder is left: %v", err)
	}
}

const podSpec = `version: 1
name: podtest
environments:
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net, uts]
    hostname: web
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /www}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'cat /proc/sys/kernel/random/uuid > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www']}
  client:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: web}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`

// A pod's namespaces are its holder's: after nsup restart web, client
// (which joins web's network) reaches the new web as it did the old one,
// in the same network namespace; down of both ends the holder.
func TestRootPodRestart(t *testing.T) {
	testPodRestart(t, podSpec)
}

func testPodRestart(t *testing.T, text string) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "pod.yaml")
	os.WriteFile(f, []byte(text), 0o644)
	t.Chdir(dir)
	t.Cleanup(func() { nsup(t, "down", f) })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	// What client gets from web's httpd, once it answers (5 s at most).
	fetch := func() string {
		for i := 0; i < 100; i++ {
			_, out, _ := nsup(t, "exec", "client", "--", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/")
			if len(strings.TrimSpace(out)) == 36 {
				return strings.TrimSpace(out)
			}
			sleepMs(50)
		}
		return ""
	}
	pidsOf := func() map[string]int {
		_, out, _ := nsup(t, "ps", "--json")
		var entries []psEntry
		json.Unmarshal([]byte(out), &entries)
		m := map[string]int{}
		for _, e := range entries {
			if e.Running {
				m[e.Name] = e.Pid
			}
			if e.Name == "client" && e.Joined["net"] != "pod:web" {
				t.Errorf("ps: client joined %v, want net=pod:web", e.Joined)
			}
		}
		return m
	}
	netOf := func(pid int) string {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		return l
	}
	first := fetch()
	before := pidsOf()
	if first == "" || len(before) != 2 || netOf(before["web"]) != netOf(before["client"]) {
		t.Fatalf("before the restart: %q %v", first, before)
	}
	code, out, errs := nsup(t, "restart", "web")
	if code != 0 || !strings.Contains(out, "podtest/web: stopped") || !strings.Contains(out, "web") {
		t.Fatalf("restart web: %d %s %s", code, out, errs)
	}
	after := pidsOf()
	second := fetch()
	if second == "" || second == first {
		t.Errorf("after the restart, client got %q (before: %q): want the new web's", second, first)
	}
	if after["web"] == before["web"] || after["client"] != before["client"] || netOf(after["web"]) != netOf(before["client"]) {
		t.Errorf("after the restart: pids %v (before %v), web's net %s, client's %s", after, before, netOf(after["web"]), netOf(after["client"]))
	}
	// One holder, the same all along: the first is still there, and in
	// both environments' network namespace.
	rec := filepath.Join(dir, "state", "podtest", ".pods", "web.json")
	var h struct{ Pid int }
	b, _ := os.ReadFile(rec)
	json.Unmarshal(b, &h)
	if h.Pid == 0 || netOf(h.Pid) != netOf(after["client"]) || holderName(h.Pid) != "nsup-pod" {
		t.Errorf("holder %s: pid %d (%s), net %s; client's %s", b, h.Pid, comm(h.Pid), netOf(h.Pid), netOf(after["client"]))
	}
	// In the host's user namespace (root's holder makes none: see
	// TestRootPodHolderHostRoot).
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", h.Pid)); l != userNS(os.Getpid()) {
		t.Errorf("holder's user namespace %s: not the host's", l)
	}
	// And client's restart keeps web (it needs of web only the network,
	// which the holder holds): the same web, reached from the new client.
	if code, out, errs := nsup(t, "restart", "client"); code != 0 || strings.Contains(out, "web") {
		t.Fatalf("restart client: %d %s %s", code, out, errs)
	}
	third := pidsOf()
	if third["web"] != after["web"] || third["client"] == after["client"] || netOf(third["client"]) != netOf(after["web"]) || fetch() != second {
		t.Errorf("after restart client: pids %v (before %v)", third, after)
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d %s %s", code, out, errs)
	}
	// Gone with the pod's last environment, by down (reaped: nsup's child
	// here), well before it would end by itself (holderIdle).
	for i := 0; i < 5 && comm(h.Pid) != ""; i++ {
		sleepMs(50)
	}
	if c := comm(h.Pid); c != "" {
		t.Errorf("the holder (pid %d) is left after down: %s", h.Pid, c)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state")); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
}

// holderName is a pod holder's name once it has named itself: apply
// starts the holder and goes on, and the holder names itself nsup-pod
// first thing in its main, which under load came after apply -d had
// returned (a hog run failed TestRootPodHolderHostRoot on "nsup"). It
// waits for that, at most 10 s, or for the process to be gone.
func holderName(pid int) string {
	for i := 0; i < 200; i++ {
		if c := comm(pid); c == "nsup-pod" || c == "" {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	return comm(pid)
}

// comm is a process's name, "" if there is none (or it is a zombie).
func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || pid <= 0 {
		return ""
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || strings.HasPrefix(s[end+1:], " Z") {
		return ""
	}
	return s[open+1 : end]
}

// A pod's holder started for some namespaces is never entered for others:
// the ones it does not hold are the host's. After the spec changes so that
// the pod has more, bringing db back is refused (it would otherwise run in
// the host's network).
func TestRootPodHolderTypes(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "pod.yaml")
	const spec = `version: 1
name: holdtypes
environments:
  db:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net, ipc]
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {ipc: db}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`
	os.WriteFile(f, []byte(spec), 0o644)
	t.Cleanup(func() { nsup(t, "down", f) })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	// The pod now shares net too: its holder holds ipc only.
	os.WriteFile(f, []byte(strings.Replace(spec, "join: {ipc: db}", "join: {ipc: db, net: db}", 1)), 0o644)
	code, _, errs := nsup(t, "restart", "db")
	if code == 0 || !strings.Contains(errs, "pod db's holder") || !strings.Contains(errs, "holds ipc, and this plan wants net,ipc") {
		t.Errorf("restart db with a pod of more namespaces: %d %s", code, errs)
	}
	_, out, _ := nsup(t, "ps", "--json", "-p", "holdtypes")
	if strings.Contains(out, `"name": "db"`) && strings.Contains(out, `"running": true`) {
		var entries []psEntry
		json.Unmarshal([]byte(out), &entries)
		for _, e := range entries {
			if e.Name == "db" && e.Running {
				host, _ := os.Readlink("/proc/self/ns/net")
				if netOf := func(pid int) string { l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); return l }; netOf(e.Pid) == host {
					t.Errorf("db runs in the host's network namespace")
				}
			}
		}
	}
}

// A pod's holder started for a pasta network is not entered by a plan
// whose pod has none (another spec of the project, or the spec changed):
// that plan's joiners were not checked against pasta, and one keeping
// CAP_NET_RAW reached the host's loopback (the tenth stop's review). Nor
// the other way round.
func TestRootPodHolderNetwork(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "pod.yaml")
	const spec = `version: 1
name: holdnet
environments:
  db:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: db}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`
	os.WriteFile(f, []byte(spec), 0o644)
	t.Cleanup(func() { nsup(t, "down", f) })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	// Another spec of the project: db without pasta, and a joiner with
	// CAP_NET_RAW, which that spec's plan allows.
	g := filepath.Join(dir, "other.yaml")
	t.Cleanup(func() { nsup(t, "down", g) }) // raw, had it started
	os.WriteFile(g, []byte(strings.Replace(strings.Replace(spec, "    net: {network: user}\n", "", 1),
		"  web:", "  raw:", 1)+`    security: {capabilities: {add: [NET_RAW]}}
`), 0o644)
	code, _, errs := nsup(t, "apply", "-d", g, "raw")
	if code == 0 || !strings.Contains(errs, "pod db's holder") || !strings.Contains(errs, `was started for network "user", and this plan has ""`) {
		t.Errorf("a joiner with NET_RAW into the pasta network through another spec: %d %s", code, errs)
	}
	if code, out, _ := nsup(t, "ps", "-p", "holdnet"); code != 0 || strings.Contains(out, "raw") {
		t.Errorf("raw runs: %s", out)
	}
	// A record of an older nsup, which did not say the network: not
	// entered for none either (it may be pasta's, as here).
	record := filepath.Join(dir, "state", "holdnet", ".pods", "db.json")
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil || rec["network"] != "user" {
		t.Fatalf("the holder's record: %s (%v)", b, err)
	}
	delete(rec, "network")
	b, _ = json.Marshal(rec)
	if err := os.WriteFile(record, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = nsup(t, "apply", "-d", g, "raw")
	if code == 0 || !strings.Contains(errs, "pod db's holder") || !strings.Contains(errs, "does not say which network it was started for") {
		t.Errorf("raw into an older holder's pod: %d %s", code, errs)
	}
}

// A restart whose spec no longer plans (a bind source removed) stops
// nothing: the environment runs on, the same process, and the error says
// so.
func TestRootRestartPlanFails(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	src := filepath.Join(dir, "data")
	os.Mkdir(src, 0o755)
	f := filepath.Join(dir, "nsup.yaml")
	spec := `version: 1
name: rfail
environments:
  app:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ` + src + `, target: /data}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`
	os.WriteFile(f, []byte(spec), 0o644)
	t.Cleanup(func() { nsup(t, "down", "-p", "rfail") })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	pid := func() int {
		_, out, _ := nsup(t, "ps", "--json", "-p", "rfail")
		var entries []psEntry
		json.Unmarshal([]byte(out), &entries)
		for _, e := range entries {
			if e.Name == "app" && e.Running {
				return e.Pid
			}
		}
		return 0
	}
	before := pid()
	// The file's errors at once: app's bind source gone (the host's)
	// with another environment's typo (the schema's), by position.
	os.Remove(src)
	os.WriteFile(f, []byte(spec+`  typo:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    procesess: [{name: main, command: [/bin/busybox, "true"]}]
`), 0o644)
	code, out, errs := nsup(t, "restart", "rfail/app")
	want := []string{
		f + `:8:30: environments.app.mounts[0].source: ` + src + `: no such file or directory: make it, or say create: true (apply then makes the folder)`,
		f + `:11:3: environments.typo: missing required key "processes"`,
		f + `:14:5: environments.typo.procesess: unknown key "procesess" (did you mean "processes"?)`,
	}
	if code != 2 || !strings.Contains(errs, "rfail/app left as it is") || !strings.HasSuffix(errs, strings.Join(want, "\n")+"\n") || strings.Contains(out, "stopped") {
		t.Errorf("restart with a spec that does not plan: exit %d, stdout %q, stderr\n%s\nwant exit 2 and, last,\n%s", code, out, errs, strings.Join(want, "\n"))
	}
	if after := pid(); before == 0 || after != before {
		t.Errorf("app's pid %d before the restart, %d after: want it left running", before, after)
	}
}

// depends_on a healthy environment that is already running (applied
// before, alone): apply -d web keeps it (compose's up of one service),
// asks its init for its health, and starts web; a second db is never
// started. So does a restart of web.
func TestRootDependsOnRunning(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	b, err := os.ReadFile("../../examples/health.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// db stays (sleep 1000 once ready), web sleeps.
	text := strings.Replace(string(b), "exec /bin/busybox sleep 5", "exec /bin/busybox sleep 1000", 1)
	text = strings.Replace(text, "serving\"; /bin/busybox sleep 1'", "serving\"; exec /bin/busybox sleep 1000'", 1)
	f := filepath.Join(dir, "health.yaml")
	os.WriteFile(f, []byte("name: dep\n"+text), 0o644)
	t.Cleanup(func() { nsup(t, "down", "-p", "dep") })
	if code, _, errs := nsup(t, "apply", "-d", f, "db"); code != 0 {
		t.Fatalf("apply -d db: %d %s", code, errs)
	}
	ps := func() map[string]int {
		_, out, _ := nsup(t, "ps", "--json", "-p", "dep")
		var entries []struct {
			Name, Health string
			Pid          int
			Running      bool
		}
		json.Unmarshal([]byte(out), &entries)
		m := map[string]int{}
		for _, e := range entries {
			if e.Running && (e.Name != "db" || e.Health == "healthy") {
				m[e.Name] = e.Pid
			}
		}
		return m
	}
	// Before db is healthy (its check passes after 1 s): web waits.
	code, out, errs := nsup(t, "plan", "-d", f, "web")
	if code != 0 || !strings.Contains(out, "wait(db healthy): db runs already") || strings.Contains(out, "db   host") {
		t.Errorf("plan -d web: %d %s %s", code, out, errs)
	}
	if code, out, errs := nsup(t, "apply", "-d", f, "web"); code != 0 || strings.Contains(out, "db ") {
		t.Fatalf("apply -d web while db runs: %d %q %s", code, out, errs)
	}
	first := ps()
	if first["db"] == 0 || first["web"] == 0 {
		t.Fatalf("ps after apply -d web: %v", first)
	}
	if out := logsUntil(t, "dep/web", "web: db is healthy, serving\n"); !strings.HasSuffix(out, "web: db is healthy, serving\n") {
		t.Errorf("web's log: %q", out)
	}
	if code, out, errs := nsup(t, "restart", "dep/web"); code != 0 {
		t.Fatalf("restart web: %d %s %s", code, out, errs)
	}
	second := ps()
	if second["db"] != first["db"] || second["web"] == 0 || second["web"] == first["web"] {
		t.Errorf("after restart web: %v (before %v): want the same db, a new web", second, first)
	}
	if _, out, _ := nsup(t, "logs", "dep/db"); strings.Count(out, "db: starting") != 1 {
		t.Errorf("db's log: %q (one start wanted)", out)
	}
}

func userNS(pid int) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	return l
}

// logsUntil is nsup logs ENV once it ends with want, or after 5 s: a
// detached process's lines reach its log through init's copy of its
// pipe, soon, not necessarily before apply -d returns.
func logsUntil(t *testing.T, env, want string) string {
	t.Helper()
	out := ""
	for i := 0; i < 250 && !strings.HasSuffix(out, want); i++ {
		if i > 0 {
			sleepMs(20)
		}
		_, out, _ = nsup(t, "logs", env)
	}
	return out
}
