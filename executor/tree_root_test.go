package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
)

// Process trees, in the foreground: each declared process records in a
// host folder bound at /out when it gets SIGTERM, so that the order of a
// stop is read after the environment has gone.

// recorder is a process that says it is up, then waits; on SIGTERM it
// appends its name to /out/order and exits 0.
func recorder(name string) string {
	return `trap 'echo ` + name + ` >> /out/order; exit 0' TERM; touch /out/up-` + name + `; echo ` + name + ` up; while :; do sleep 0.05; done`
}

// waitUp is a shell loop waiting (boundedly) for /out/up-NAME of each name.
func waitUp(names ...string) string {
	var conds []string
	for _, n := range names {
		conds = append(conds, "[ -e /out/up-"+n+" ]")
	}
	return `i=0; until ` + strings.Join(conds, " && ") + ` || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; `
}

// treeDir makes a spec folder: a busybox root, and out/, bound at /out.
func treeDir(t *testing.T) string {
	dir := t.TempDir()
	busyboxRoot(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readOrder(t *testing.T, dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "out", "order"))
	return strings.Fields(string(b))
}

// treeSpec is three levels under main (main → mid → leaf, and a stubborn
// leaf that ignores SIGTERM, with a short stop_timeout), and a second
// top-level process.
func treeSpec(main string) string {
	return `version: 1
environments:
  tree:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./out, target: /out}
    processes:
      - name: main
        command: [/bin/sh, -c, "` + main + `"]
        children:
          - name: mid
            command: [/bin/sh, -c, "` + recorder("mid") + `"]
            children:
              - name: leaf
                command: [/bin/sh, -c, "` + recorder("leaf") + `"]
              - name: stubborn
                command: [/bin/sh, -c, "trap '' TERM; touch /out/up-stubborn; while :; do sleep 0.05; done"]
                stop_timeout: 200ms
      - name: side
        command: [/bin/sh, -c, "` + recorder("side") + `"]
`
}

// TestRootTreeMainExits: when the main process exits, the whole tree is
// stopped deepest first (leaf and stubborn, then mid, then side), the
// stubborn one killed once its stop_timeout is over; the status is the
// main process's; every line is prefixed with its process's label.
func TestRootTreeMainExits(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := treeDir(t)
	p := compile(t, dir, treeSpec(waitUp("mid", "leaf", "stubborn", "side")+"echo main done; exit 4"))
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 4 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	if got, want := readOrder(t, dir), []string{"leaf", "mid", "side"}; !slices.Equal(got, want) {
		t.Errorf("stopped in the order %q, want %q", got, want)
	}
	for _, l := range []string{"tree/main | main done", "tree/mid | mid up", "tree/leaf | leaf up", "tree/side | side up"} {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

// TestRootTreeChildExits: when a process that is not the main one exits,
// its declared descendants are stopped (leaf, and stubborn by SIGKILL
// after its stop_timeout), and nothing else: main and side run on.
func TestRootTreeChildExits(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := treeDir(t)
	// mid exits once its children are up; main waits for leaf's stop and
	// for stubborn to be gone, and says whether side was stopped.
	p := compile(t, dir, `version: 1
environments:
  tree:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: ./out, target: /out}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            `+waitUp("leaf", "stubborn")+`
            s=$(cat /out/up-stubborn)
            i=0; until { [ -e /out/order ] && grep -q leaf /out/order; } || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done
            i=0; while [ -e /proc/$s ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
            [ -e /proc/$s ] || echo stubborn gone
            echo side stopped: $(grep -c side /out/order)
            exit 3
        children:
          - name: mid
            command: [/bin/sh, -c, "`+waitUp("leaf", "stubborn")+`echo mid exits"]
            children:
              - name: leaf
                command: [/bin/sh, -c, "`+recorder("leaf")+`"]
              - name: stubborn
                command: [/bin/sh, -c, "trap '' TERM; echo $$ > /out/up-stubborn; while :; do sleep 0.05; done"]
                stop_timeout: 200ms
      - name: side
        command: [/bin/sh, -c, "`+recorder("side")+`"]
`)
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 3 {
		t.Fatalf("apply: %d %v\n%s\n%s\n%s", st, err, out, errOut, planText(p))
	}
	if got, want := linesOf(out, "tree/main"), []string{"stubborn gone", "side stopped: 0"}; !slices.Equal(got, want) {
		t.Errorf("main saw %q, want %q", got, want)
	}
	// Then main's exit stopped side.
	if got, want := readOrder(t, dir), []string{"leaf", "side"}; !slices.Equal(got, want) {
		t.Errorf("stopped in the order %q, want %q", got, want)
	}
}

// TestRootTreeSIGTERM: SIGTERM to nsup reaches init, which stops the
// whole tree deepest first and the main process last; the status is the
// main process's.
func TestRootTreeSIGTERM(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := treeDir(t)
	// main records its stop, and exits 5.
	p := compile(t, dir, strings.Replace(treeSpec(recorder("main")), "echo main >> /out/order; exit 0", "echo main >> /out/order; exit 5", 1))
	var out syncBuffer
	done := make(chan struct{})
	var st int
	var err error
	up := make(chan struct{}, 1)
	opts := executor.OnStart(executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}, func(string, int) { up <- struct{}{} })
	go func() {
		defer close(done)
		st, err = executor.Apply(context.Background(), p, opts)
	}()
	for _, n := range []string{"main", "mid", "leaf", "side"} {
		waitFor(t, &out, n+" up")
	}
	<-up // set up, as Apply sees it: a signal before is a setup interrupted
	for _, f := range []string{"up-stubborn"} {
		waitFile(t, filepath.Join(dir, "out", f))
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-done
	if err != nil || st != 5 {
		t.Fatalf("status %d, err %v; want 5 (main's)\n%s", st, err, out.String())
	}
	if got, want := readOrder(t, dir), []string{"leaf", "mid", "side", "main"}; !slices.Equal(got, want) {
		t.Errorf("stopped in the order %q, want %q", got, want)
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

// TestRootZombieReaped: an orphan (a background process whose parent
// exited) is reparented to init, which reaps it as soon as it exits: the
// main process watches its pid go (within 5 s, generously; without init's
// reaping it would stay a zombie for ever).
func TestRootZombieReaped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  reap:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            (sleep 0.2 & echo $! > /tmp/orphan)
            o=$(cat /tmp/orphan)
            echo "orphan $o parent $(grep PPid /proc/$o/status | tr -d '\t')"
            i=0
            while [ -e /proc/$o ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
            if [ -e /proc/$o ]; then echo "left: $(grep State /proc/$o/status)"; else echo reaped; fi
            echo "zombies: $(grep -l 'State:.*Z' /proc/[0-9]*/status 2>/dev/null | tr '\n' ' ')"
`)
	out := runOK(t, p)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "parent PPid:1") || lines[1] != "reaped" || lines[2] != "zombies:" {
		t.Errorf("got %q; want the orphan reparented to init (PPid 1), reaped, and no zombie", lines)
	}
}

// TestRootSeveralInterrupted: with several environments in the
// foreground, SIGINT to nsup stops them in reverse dependency order (web
// joins db: web first), each in a process group of its own; each one's
// end is reported, and nsup's status is the first failing one's.
func TestRootSeveralInterrupted(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := treeDir(t)
	p := compile(t, dir, `version: 1
environments:
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    mounts:
      - {type: bind, source: ./out, target: /out}
    processes:
      - name: main
        command: [/bin/sh, -c, "trap 'echo db >> /out/order; exit 3' TERM; echo db up; while :; do sleep 0.05; done"]
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    join: {net: db}
    mounts:
      - {type: bind, source: ./out, target: /out}
    processes:
      - name: server
        command: [/bin/sh, -c, "trap 'echo web >> /out/order; exit 0' TERM; echo web up; while :; do sleep 0.05; done"]
`)
	var out syncBuffer
	ended := map[string]int{}
	var order []string
	opts := executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
		Ended: func(env string, st int, _ string) { ended[env] = st; order = append(order, env) }}
	// Up, as Apply sees it (the output alone can come first: a host step
	// may follow the processes' start).
	up := make(chan string, 2)
	opts = executor.OnStart(opts, func(env string, _ int) { up <- env })
	done := make(chan struct{})
	var st int
	var err error
	go func() {
		defer close(done)
		st, err = executor.Apply(context.Background(), p, opts)
	}()
	waitFor(t, &out, "db/main | db up")
	waitFor(t, &out, "web/server | web up")
	<-up
	<-up
	// Each environment's init leads a process group of its own (the
	// Setpgid step), which a terminal's ^C does not reach: only nsup's.
	inits := 0
	for _, pid := range allPids() {
		if f, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); len(f) > 0 {
			fs := strings.Fields(string(f[strings.LastIndexByte(string(f), ')')+1:]))
			if len(fs) > 2 && fs[1] == strconv.Itoa(os.Getpid()) {
				inits++
				if fs[2] != strconv.Itoa(pid) {
					t.Errorf("child %d of nsup is in process group %s, want its own", pid, fs[2])
				}
			}
		}
	}
	if inits != 2 {
		t.Errorf("%d children of nsup, want 2 (the inits)", inits)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	<-done
	if err != nil || st != 3 {
		t.Fatalf("status %d, err %v; want 3 (db's)\n%s", st, err, out.String())
	}
	if got, want := readOrder(t, dir), []string{"web", "db"}; !slices.Equal(got, want) {
		t.Errorf("stopped in the order %q, want %q", got, want)
	}
	if !slices.Equal(order, []string{"web", "db"}) || ended["web"] != 0 || ended["db"] != 3 {
		t.Errorf("ends reported: %v in the order %q", ended, order)
	}
}

// TestRootNoPidNamespaceLeavesNothing: without a pid namespace of its
// own, init is not PID 1, so the kernel does not kill what is left when it
// exits: a process the tree started in a session of its own (a daemon)
// would outlive the environment, and with it its mount namespace and
// whatever host paths are bound there. Init is the tree's child
// subreaper then, and kills what is left before it exits (it finds its
// children in the environment's /proc where it has one: a proc of the
// host's pid namespace is refused, and in a user namespace the kernel
// refuses it, so here the environment's groups, removed, are what kill
// it). Root plans the host's pid namespace only in a user namespace that
// maps root elsewhere: the environment has one.
func TestRootNoPidNamespaceLeavesNothing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	for _, a := range []string{"setsid", "sleep"} {
		os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	// The child stage runs as host uid 100000: the tree's folders must
	// let it through (t.TempDir makes them 0700), and it cannot create
	// a mount target in a tree owned by the host's root.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Mkdir(filepath.Join(root, "dev"), 0o755)
	// One process (the minimal PID 1), and a tree (nsup's init). The
	// removal of the environment's groups kills what is left too, so
	// this does not tell init's own way (initleft.go, TestOwnChildren).
	for _, side := range []string{"", `
      - name: side
        command: [/bin/sleep, "100"]`} {
		p := compile(t, dir, `version: 1
environments:
  nopid:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    mounts:
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [/bin/sh, -c, "setsid /bin/sleep 4243 & echo $!"]`+side+`
`)
		st, out, errOut, err := run(t, p, executor.Options{})
		if err != nil || st != 0 {
			t.Fatalf("apply: %d %v %s", st, err, errOut)
		}
		f := strings.Fields(out)
		if len(f) == 0 {
			t.Fatalf("output %q", out)
		}
		pid, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("output %q", out)
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && !strings.Contains(string(b), ") Z ") && strings.Contains(string(b), "(sleep)") {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the daemon the tree started (pid %d) outlived the environment (tree: %v)", pid, side != "")
		}
	}
}
