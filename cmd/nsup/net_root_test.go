package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Networking for real: pasta against the environment's network namespace.
// No traffic leaves this machine: servers run on the host's 127.0.0.1 or
// in a network namespace the test makes (routed through a veth pair).

// ncGet is a shell command that fetches http://IP:PORT/ with busybox nc
// (its wget, static, crashes resolving in a closure root). nc half-closes
// the connection at the end of its input, and through Debian 12's pasta
// (outbound) the server's close does not reach it then: the timeout ends
// it, the answer long read.
func ncGet(ip, port string) string {
	return `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox timeout 3 /bin/busybox nc ` + ip + " " + port + ` | /bin/busybox head -c 4096`
}

func requirePasta(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pasta"); err != nil {
		skipOrFail(t, "needs pasta (apt-get install passt)")
	}
	requireBusybox(t)
}

// netSpec writes a spec of busybox environments: web serving /www on
// 8080, with net (a YAML mapping's body) and processes.
func netSpec(t *testing.T, dir, body string) string {
	t.Helper()
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from web\n"), 0o644)
	f := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll("version: 1\nenvironments:\n"+body, "WWW", www)), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// httpGet fetches url from the host, retrying while the server inside starts.
func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		r, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			return string(b), nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return "", last
}

// TestRootNetPorts: a server inside, published on 127.0.0.1:18080,
// answers from the host; a second environment that joins its network by
// name reaches it on its loopback and shares its published port (ps and
// nsup port show it for both); after down no pasta, no network namespace
// is left (checkHost).
func TestRootNetPorts(t *testing.T) {
	dir := pastaTestDir(t)
	f := netSpec(t, dir, `  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18080:8080"]}
    mounts: [{type: bind, source: WWW, target: /www, readonly: true}]
    processes:
      - {name: main, command: [/bin/busybox, httpd, -f, -p, "8080", -h, /www]}
  client:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: web}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "for i in 1 2 3 4 5 6 7 8 9 10; do `+ncGet("127.0.0.1", "8080")+` | /bin/busybox grep 'hello from web' && exec /bin/busybox sleep 1000; /bin/busybox sleep 0.2; done"]}
`)
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	defer nsup(t, "down", f)
	body, err := httpGet("http://127.0.0.1:18080/")
	if err != nil || body != "hello from web\n" {
		t.Errorf("the published port from the host: %q %v", body, err)
	}
	for _, env := range []string{"web", "client"} {
		code, out, errs := nsup(t, "port", env)
		if code != 0 || out != "8080/tcp -> 127.0.0.1:18080\n" {
			t.Errorf("port %s: %d %q %s", env, code, out, errs)
		}
	}
	code, out, _ := nsup(t, "ps")
	if code != 0 || strings.Count(out, "127.0.0.1:18080->8080/tcp") != 2 {
		t.Errorf("ps shows the published port for both:\n%s", out)
	}
	for i := 0; ; i++ {
		code, out, _ := nsup(t, "logs", "client")
		if code == 0 && strings.Contains(out, "hello from web") {
			break
		}
		if i == 100 {
			t.Fatalf("the joined environment did not reach web on its loopback:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
	if _, err := httpGet("http://127.0.0.1:18080/"); err == nil {
		t.Errorf("the port still answers after down")
	}
}

// TestRootNetForeground: in the foreground, the port is published while
// the environment runs and its pasta goes when it ends, and when nsup is
// killed (SIGKILL): no nsup command is needed for that.
func TestRootNetForeground(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := netSpec(t, dir, `  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["18081:8080"]}
    mounts: [{type: bind, source: WWW, target: /www, readonly: true}]
    processes:
      - {name: main, command: [/bin/busybox, httpd, -f, -p, "8080", -h, /www]}
`)
	for _, end := range []string{"SIGTERM", "SIGKILL"} {
		cmd := exec.Command(buildNsup(t), "apply", f)
		cmd.Env = os.Environ()
		// An fd nsup's caller left open (a make jobserver's pipe, say):
		// it must reach neither the keeper nor pasta, which outlive nsup.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// (At fd 9: above the fds nsup hands its helpers, whose dups
		// would close a lower one by chance.)
		cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, nil, nil, pw}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		body, err := httpGet("http://127.0.0.1:18081/")
		if err != nil || body != "hello from web\n" {
			t.Errorf("%s: the published port: %q %v", end, body, err)
		}
		left := pastasRunning(t, end)
		var st unix.Stat_t
		unix.Fstat(int(pr.Fd()), &st)
		leak := fmt.Sprintf("pipe:[%d]", st.Ino)
		for _, h := range left {
			pid, _, _ := strings.Cut(h, " ")
			fds, _ := os.ReadDir("/proc/" + pid + "/fd")
			for _, fd := range fds {
				if l, _ := os.Readlink("/proc/" + pid + "/fd/" + fd.Name()); l == leak {
					t.Errorf("%s: %s holds the caller's pipe as its fd %s", end, h, fd.Name())
				}
			}
		}
		pr.Close()
		if end == "SIGTERM" {
			// A keeper stopped (SIGSTOP) does not keep nsup from ending,
			// nor pasta from going: nsup kills it after its grace.
			for _, h := range left {
				if pid, name, _ := strings.Cut(h, " "); name == "nsup-keeper" {
					n, _ := strconv.Atoi(pid)
					unix.Kill(n, unix.SIGSTOP)
				}
			}
			cmd.Process.Signal(os.Interrupt)
		} else {
			cmd.Process.Kill()
		}
		cmd.Wait()
		// The environment dies with nsup (its parent-death signal),
		// pasta with it (its keeper's pidfd of the child), with no nsup
		// command after. (Its groups are removed by the next command, as
		// any killed nsup's.)
		waitNoPasta(t)
		nsup(t, "ps")
	}
}

// TestRootNetDetachedEnds: a detached environment that ends on its own
// takes its pasta with it (its keeper), with no nsup command after: the
// port is closed and no pasta is left before down.
func TestRootNetDetachedEnds(t *testing.T) {
	dir := pastaTestDir(t)
	stop := filepath.Join(dir, "stop")
	if err := os.Mkdir(stop, 0o755); err != nil {
		t.Fatal(err)
	}
	f := netSpec(t, dir, `  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18083:8080"]}
    mounts:
      - {type: bind, source: WWW, target: /www, readonly: true}
      - {type: bind, source: `+stop+`, target: /stop, readonly: true}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "/bin/busybox httpd -p 8080 -h /www; until [ -e /stop/now ]; do /bin/busybox sleep 0.05; done"]}
`)
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	defer nsup(t, "down", f)
	if body, err := httpGet("http://127.0.0.1:18083/"); err != nil || body != "hello from web\n" {
		t.Errorf("the published port: %q %v", body, err)
	}
	pastasRunning(t, "detached")
	// The main process ends; init, the environment, with it.
	if err := os.WriteFile(filepath.Join(stop, "now"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitNoPasta(t)
	if _, err := httpGet("http://127.0.0.1:18083/"); err == nil {
		t.Errorf("the port still answers once the environment has ended")
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
}

// pastasRunning are pasta and its keeper, which must be running (what
// waitNoPasta waits to see gone): a check that can fail while they run.
func pastasRunning(t *testing.T, what string) []string {
	t.Helper()
	left := pastas()
	if l := strings.Join(left, ","); !strings.Contains(l, "nsup-keeper") || !strings.Contains(l, "pass") {
		t.Errorf("%s: pasta or its keeper not found while it runs: %q", what, left)
	}
	return left
}

// requireTun: rootless pasta opens /dev/net/tun as the user.
func requireTun(t *testing.T, u testUser) {
	t.Helper()
	if out, err := exec.Command("setpriv", "--reuid", fmt.Sprint(u.uid), "--regid", fmt.Sprint(u.gid), "--clear-groups", "test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun").CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("rootless pasta opens /dev/net/tun, mode 0600 here: chmod 0666 /dev/net/tun as distributions ship it (.ci/run does) (%v %s)", err, out))
	}
}

// waitNoPasta waits, boundedly, until no pasta process is left.
func waitNoPasta(t *testing.T) {
	t.Helper()
	for i := 0; ; i++ {
		left := pastas()
		if len(left) == 0 {
			return
		}
		if i == 200 {
			t.Fatalf("pasta processes left: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pastas are the live pasta processes and nsup's keepers of them, of
// any session, known by their comm: pasta executes itself again as
// passt.avx2 where the CPU has AVX2. A zombie is dead (it holds no
// namespace, no port): a detached environment's keeper is reaped by
// PID 1, which on some machines takes its time.
func pastas() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open || len(stat) < end+3 {
			continue
		}
		comm, state := string(stat[open+1:end]), stat[end+2]
		if isPasta(comm) && state != 'Z' && state != 'X' {
			out = append(out, e.Name()+" "+comm)
		}
	}
	return out
}

func isPasta(comm string) bool {
	switch comm {
	case "pasta", "pasta.avx2", "passt", "passt.avx2", "nsup-keeper":
		return true
	}
	return false
}

// TestRootNetHostLoopback: a server on the host's 127.0.0.1 is out of
// reach from inside unless host_loopback: true, which maps the gateway
// address to it. The "host" here is a network namespace the test makes
// (a veth pair to this one, its default route through it), where nsup
// runs: without the mapping, the gateway is this namespace's end of the
// pair, where nothing listens, and no packet leaves the machine.
func TestRootNetHostLoopback(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	pid := testNetns(t, "10.231.8")
	in := []string{"nsenter", "-t", pid, "-n"}
	dir := t.TempDir()
	www := filepath.Join(dir, "hostlo")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("host loopback\n"), 0o644)
	srv := exec.Command(in[0], append(in[1:], "/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:18090", "-h", www)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	// The control: a server on the gateway's own address (this namespace's
	// end of the pair), which an unmapped gateway reaches, so that
	// "refused" says the mapping is off, not that nothing is reached.
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "index.html"), []byte("the gateway itself\n"), 0o644)
	ctl := exec.Command("/bin/busybox", "httpd", "-f", "-p", "10.231.8.1:18091", "-h", outside)
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Process.Kill(); ctl.Wait() })
	for _, tc := range []struct {
		loopback string
		want     string
	}{{"false", "REFUSED"}, {"true", "host loopback"}} {
		t.Run("host_loopback="+tc.loopback, func(t *testing.T) {
			sub := t.TempDir()
			f := netSpec(t, sub, `  probe:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, host_loopback: `+tc.loopback+`}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "gw=$$(/bin/busybox ip route | /bin/busybox awk '/^default/ {print $$3}'); echo gateway $$gw; (`+ncGet("$$gw", "18091")+`) | /bin/busybox grep -q 'the gateway itself' && echo 'control reached'; (`+ncGet("$$gw", "18090")+`) | /bin/busybox grep -q 'host loopback' && echo 'host loopback' || echo REFUSED"]}
`)
			cmd := exec.Command(in[0], append(in[1:], buildNsup(t), "apply", f)...)
			cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+filepath.Join(sub, "cache"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "gateway 10.231.8.1") || tc.want == "REFUSED" && !strings.Contains(string(out), "control reached") || !strings.Contains(string(out), tc.want) ||
				tc.want == "REFUSED" && strings.Contains(string(out), "\nhost loopback") {
				t.Errorf("%v, want %q:\n%s", err, tc.want, out)
			}
		})
	}
}

// testVeth is the name of testNetns's veth pair for prefix (its host
// end is this with "h", its namespace's with "n").
func testVeth(prefix string) string {
	return fmt.Sprintf("nt%d%s", os.Getpid()%100000, strings.ReplaceAll(prefix, ".", "")[len(prefix)-5:])
}

// testNetns makes a network namespace held by a process of the test (no
// /run/netns mount), joined to this one by a veth pair: PREFIX.1 here,
// PREFIX.2 there, its default route through PREFIX.1. It returns the
// holder's pid; all of it goes when the test ends.
func testNetns(t *testing.T, prefix string) string {
	t.Helper()
	holder := exec.Command("unshare", "--net", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	pid := fmt.Sprint(holder.Process.Pid)
	for i := 0; ; i++ {
		a, _ := os.Readlink("/proc/" + pid + "/ns/net")
		b, _ := os.Readlink("/proc/self/ns/net")
		if a != "" && a != b {
			break
		}
		if i == 200 {
			t.Fatal("unshare --net did not make its namespace")
		}
		time.Sleep(5 * time.Millisecond)
	}
	veth := testVeth(prefix)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	in := []string{"nsenter", "-t", pid, "-n"}
	run("ip", "link", "add", veth+"h", "type", "veth", "peer", "name", veth+"n")
	t.Cleanup(func() { exec.Command("ip", "link", "del", veth+"h").Run() })
	run("ip", "link", "set", veth+"n", "netns", pid)
	run("ip", "addr", "add", prefix+".1/24", "dev", veth+"h")
	run("ip", "link", "set", veth+"h", "up")
	run(append(in, "ip", "addr", "add", prefix+".2/24", "dev", veth+"n")...)
	run(append(in, "ip", "link", "set", veth+"n", "up")...)
	run(append(in, "ip", "link", "set", "lo", "up")...)
	run(append(in, "ip", "route", "add", "default", "via", prefix+".1")...)
	return pid
}

// TestRootNetOutbound: from inside, a server in another network
// namespace (made by the test, routed from the host through a veth pair)
// is reached through the host's routing: the outbound path. Nothing
// leaves the machine.
func TestRootNetOutbound(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	pid := testNetns(t, "10.231.7")
	dir := t.TempDir()
	www := filepath.Join(dir, "remote")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from elsewhere\n"), 0o644)
	srv := exec.Command("nsenter", "-t", pid, "-n", "/bin/busybox", "httpd", "-f", "-p", "10.231.7.2:8081", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := netSpec(t, dir, `  out:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "for i in 1 2 3 4 5; do `+ncGet("10.231.7.2", "8081")+` | /bin/busybox grep 'hello from elsewhere' && exit 0; /bin/busybox sleep 0.2; done; exit 1"]}
`)
	code, out, errs := nsup(t, "apply", f)
	if code != 0 || !strings.Contains(out, "hello from elsewhere") {
		t.Errorf("exit %d:\n%s\n%s", code, out, errs)
	}
	// Without network: user, the same is out of reach.
	os.WriteFile(f, []byte(strings.Replace(string(mustRead(t, f)), "net: {network: user}", "net: {network: none}", 1)), 0o644)
	if code, out, _ := nsup(t, "apply", f); code == 0 || strings.Contains(out, "hello from elsewhere") {
		t.Errorf("network: none reached it: exit %d\n%s", code, out)
	}
}

// TestRootRootlessNet: rootless, the same: a published port answers from
// the host, the outbound path reaches a server in another namespace, and
// pasta (the user's, in the environment's user namespace) goes with the
// environment.
func TestRootRootlessNet(t *testing.T) {
	requirePasta(t)
	u, dir, bin, cache := rootlessCase(t)
	requireTun(t, u)
	pid := testNetns(t, "10.231.9")
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from elsewhere\n"), 0o644)
	srv := exec.Command("nsenter", "-t", pid, "-n", "/bin/busybox", "httpd", "-f", "-p", "10.231.9.2:8081", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	f := filepath.Join(dir, "net.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18095:8081"]}
    mounts: [{type: bind, source: `+www+`, target: /www, readonly: true}]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "/bin/busybox httpd -p 8081 -h /www; `+ncGet("10.231.9.2", "8081")+` | /bin/busybox grep -q 'hello from elsewhere' && echo outbound ok; exec /bin/busybox sleep 1000"]}
`), 0o644)
	os.Chmod(www, 0o755)
	cmd := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", f)
	var out lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	body, err := httpGet("http://127.0.0.1:18095/")
	if err != nil || body != "hello from elsewhere\n" {
		t.Errorf("the published port, rootless: %q %v", body, err)
	}
	for i := 0; i < 200 && !strings.Contains(out.String(), "outbound ok"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if !strings.Contains(out.String(), "outbound ok") {
		t.Errorf("rootless outbound path:\n%s", out.String())
	}
	waitNoPasta(t)
}

// TestRootRootlessNetHost: rootless, what TestRootNetHostLoopback and
// TestRootNetDNS check as root, with nsup run as a test user inside a
// network namespace of the test's (its "host"): a server on its
// 127.0.0.1 is reached only with host_loopback: true (a server on the
// gateway's own address is the control), and names resolve through the
// generated resolv.conf, by a resolver the test runs there. Then a
// foreground apply killed with SIGKILL leaves no pasta (nor keeper).
func TestRootRootlessNetHost(t *testing.T) {
	requirePasta(t)
	u, dir, bin, cache := rootlessCase(t)
	requireTun(t, u)
	pid := testNetns(t, "10.231.11")
	// The resolver is on this namespace's end of the pair, at an address
	// of its own: the namespace's own (10.231.11.2) is the environment's
	// too (pasta copies it), and the gateway's is the host's loopback
	// with host_loopback: true.
	if out, err := exec.Command("ip", "addr", "add", "10.231.11.3/32", "dev", testVeth("10.231.11")+"h").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v\n%s", err, out)
	}
	serveDNS(t, fmt.Sprint(os.Getpid()), "10.231.11.3:53", "svc.test.", [4]byte{10, 231, 11, 77})
	for _, srv := range []struct{ ns, addr, body string }{
		{pid, "127.0.0.1:18096", "host loopback"},
		{"", "10.231.11.1:18097", "the gateway itself"},
	} {
		www := filepath.Join(dir, strings.NewReplacer(".", "", ":", "").Replace(srv.addr))
		os.MkdirAll(www, 0o755)
		os.WriteFile(filepath.Join(www, "index.html"), []byte(srv.body+"\n"), 0o644)
		argv := []string{"/bin/busybox", "httpd", "-f", "-p", srv.addr, "-h", www}
		if srv.ns != "" {
			argv = append([]string{"nsenter", "-t", srv.ns, "-n"}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	for _, tc := range []struct {
		loopback string
		want     string
	}{{"false", "REFUSED"}, {"true", "host loopback"}} {
		t.Run("host_loopback="+tc.loopback, func(t *testing.T) {
			f := filepath.Join(dir, "probe-"+tc.loopback+".yaml")
			os.WriteFile(f, []byte(`version: 1
environments:
  probe:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, host_loopback: `+tc.loopback+`, dns: [10.231.11.3]}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "gw=$$(/bin/busybox ip route | /bin/busybox awk '/^default/ {print $$3}'); echo gateway $$gw; (`+ncGet("$$gw", "18097")+`) | /bin/busybox grep -q 'the gateway itself' && echo 'control reached'; (`+ncGet("$$gw", "18096")+`) | /bin/busybox grep -q 'host loopback' && echo 'host loopback' || echo REFUSED; /bin/busybox cat /etc/resolv.conf; /bin/busybox nslookup svc.test"]}
`), 0o644)
			cmd := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", f)
			cmd.Args = append([]string{"nsenter", "-t", pid, "-n"}, cmd.Args...)
			cmd.Path = "/usr/bin/nsenter"
			out, err := cmd.CombinedOutput()
			o := string(out)
			if err != nil || !strings.Contains(o, "gateway 10.231.11.1") || tc.want == "REFUSED" && !strings.Contains(o, "control reached") || !strings.Contains(o, tc.want) ||
				tc.want == "REFUSED" && strings.Contains(o, "\nhost loopback") {
				t.Errorf("%v, want %q:\n%s", err, tc.want, o)
			}
			for _, want := range []string{"nameserver 10.231.11.3", "Address: 10.231.11.77"} {
				if !strings.Contains(o, want) {
					t.Errorf("no %q inside:\n%s", want, o)
				}
			}
		})
	}
	t.Run("SIGKILL", func(t *testing.T) {
		f := filepath.Join(dir, "sleeper.yaml")
		os.WriteFile(f, []byte(`version: 1
environments:
  sleeper:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18098:8080"]}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "echo up; exec /bin/busybox nc -l -p 8080"]}
`), 0o644)
		cmd := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", f)
		var out lockedBuf
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200 && !strings.Contains(out.String(), "up"); i++ {
			time.Sleep(25 * time.Millisecond)
		}
		pastasRunning(t, out.String())
		cmd.Process.Kill() // setpriv and env executed nsup: this is nsup
		cmd.Wait()
		waitNoPasta(t)
		// The killed nsup's groups, removed by the user's next command.
		u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "ps").Run()
	})
}

// lockedBuf is a buffer written by a command while the test reads it.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRootNetDNS: name resolution inside uses the generated resolv.conf:
// dns names a resolver the test runs (in a network namespace of its own,
// reached through pasta and the host's routing, not the internet); the
// generated hosts has the hostname, the environment's name and the spec's
// entries; both are read-only and the rootfs's own files are unchanged.
func TestRootNetDNS(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	pid := testNetns(t, "10.231.10")
	serveDNS(t, pid, "10.231.10.2:53", "svc.test.", [4]byte{10, 231, 10, 77})
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"bin", "etc", "proc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	bb, _ := os.ReadFile(requireBusybox(t))
	os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755)
	for _, f := range []string{"resolv.conf", "hosts"} {
		os.WriteFile(filepath.Join(root, "etc", f), []byte("the rootfs's own\n"), 0o644)
	}
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "dns.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  named:
    rootfs: {dir: `+root+`}
    namespaces: [mnt, pid, net, uts]
    hostname: box
    net: {network: user, dns: [10.231.10.2], hosts: {db.internal: 10.0.0.5}}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "/bin/busybox cat /etc/resolv.conf /etc/hosts; /bin/busybox nslookup svc.test; echo x > /etc/hosts || echo hosts read-only"]}
`), 0o644)
	code, out, errs := nsup(t, "apply", f)
	for _, want := range []string{"nameserver 10.231.10.2", "127.0.1.1\tbox named", "10.0.0.5\tdb.internal", "Address: 10.231.10.77", "hosts read-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q inside (exit %d):\n%s\n%s", want, code, out, errs)
		}
	}
	for _, name := range []string{"resolv.conf", "hosts"} {
		if b, _ := os.ReadFile(filepath.Join(root, "etc", name)); string(b) != "the rootfs's own\n" {
			t.Errorf("the rootfs's %s changed: %q", name, b)
		}
	}
}

// serveDNS answers A queries for name with ip, from addr in the network
// namespace of process pid, until the test ends: a socket made there by a
// thread that joined it (and is never used for anything else).
func serveDNS(t *testing.T, pid, addr, name string, ip [4]byte) {
	t.Helper()
	ready := make(chan error, 1)
	var conn net.PacketConn
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/proc/"+pid+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			conn, err = net.ListenPacket("udp4", addr)
		}
		ready <- err
		if err != nil {
			return
		}
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsAnswer(buf[:n], name, ip); reply != nil {
				conn.WriteTo(reply, from)
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("the test's resolver: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
}

// dnsAnswer is the reply to query q: one A record for name, none for
// anything else (NXDOMAIN for another name).
func dnsAnswer(q []byte, name string, ip [4]byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i, labels := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := int(q[i+1])<<8 | int(q[i+2])
	qend := i + 5
	r := append([]byte{}, q[:qend]...)
	r[2], r[3] = 0x81, 0x80 // a response, recursion available, no error
	r[6], r[7], r[8], r[9], r[10], r[11] = 0, 0, 0, 0, 0, 0
	if !strings.EqualFold(strings.Join(labels, ".")+".", name) {
		r[3] = 0x83 // NXDOMAIN
		return r
	}
	if qtype == 1 {
		r[7] = 1
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ip[0], ip[1], ip[2], ip[3])
	}
	return r
}

// TestRootNetClosureEtc: a closure root (nsup's own tree) gets empty
// /etc/resolv.conf and /etc/hosts to put the generated ones over, so
// that name resolution is configured there too; nsup lock takes them.
func TestRootNetClosureEtc(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "c.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  c:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: none, dns: [192.0.2.53], hosts: {db.internal: 10.0.0.5}}
    processes:
      - {name: main, command: [/bin/busybox, cat, /etc/resolv.conf, /etc/hosts]}
`), 0o644)
	code, out, errs := nsup(t, "apply", f)
	if code != 0 || !strings.Contains(out, "nameserver 192.0.2.53") || !strings.Contains(out, "10.0.0.5\tdb.internal") {
		t.Errorf("exit %d:\n%s\n%s", code, out, errs)
	}
	if code, out, errs := nsup(t, "lock", f); code != 0 {
		t.Errorf("lock: %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := nsup(t, "apply", f); code != 0 {
		t.Errorf("apply with the lock: %d\n%s\n%s", code, out, errs)
	}
}

// pastaTestDir is a root test's folder for an environment with pasta's
// network: it needs root and pasta, checks the host after, and points
// nsup's cache and state there.
func pastaTestDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	return dir
}
