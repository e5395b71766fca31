package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootNetTCPPortTaken: every published TCP port is pasta's. Debian
// 12's pasta, given a range (-t ADDR/A-B:C-D), goes on when it binds
// some of its ports only ("Failed to bind any port" is for none), so a
// user of the host who listened on one port of the range first kept it:
// apply -d succeeded, ps and nsup port listed that port as the
// environment's, and the clients of it were answered by that user's
// server (found by helper-92's review, an unprivileged user's listener
// on 127.0.0.1). Apply now fails, naming the port and the other socket,
// and leaves no pasta; with the range free, every port is pasta's.
func TestRootNetTCPPortTaken(t *testing.T) {
	dir := pastaTestDir(t)
	f := netSpec(t, dir, `  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18621:8080", "127.0.0.1:18622-18623:8081-8082"]}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`)
	// Free: apply goes on, and no other listener may join. A listener
	// of IPv6's alone on [::] at a published port takes none of its
	// connections: no refusal.
	if l6, err := net.Listen("tcp6", "[::]:18621"); err == nil {
		defer l6.Close()
	}
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	for _, port := range []string{"18621", "18622", "18623"} {
		if l, err := net.Listen("tcp4", "127.0.0.1:"+port); err == nil {
			l.Close()
			t.Errorf("another socket listened on the published TCP port 127.0.0.1:%s beside pasta's", port)
		}
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
	waitNoPasta(t)
	// One port of the range taken before apply: refused.
	l, err := net.Listen("tcp4", "127.0.0.1:18623")
	if err != nil {
		skipOrFail(t, "127.0.0.1:18623 is taken: "+err.Error())
	}
	defer l.Close()
	code, _, errs := nsup(t, "apply", "-d", f)
	if code == 0 {
		nsup(t, "down", f)
		t.Fatalf("apply -d went on with the published TCP port 127.0.0.1:18623 another process's")
	}
	if !strings.Contains(errs, "published TCP port 127.0.0.1:18623: another process's socket") {
		t.Errorf("apply -d: %d %s", code, errs)
	}
	waitNoPasta(t)
}

// TestRootRootlessNetTCPPortTaken: rootless, the same. pasta's fds are
// out of the user's reach, so a listening socket of another uid (the
// test's, root's here) on a published TCP port refuses the apply.
func TestRootRootlessNetTCPPortTaken(t *testing.T) {
	requirePasta(t)
	u, dir, bin, cache := rootlessCase(t)
	requireTun(t, u)
	f := filepath.Join(dir, "tcp.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18624-18625:8081-8082"]}
    processes:
      - {name: main, command: [/bin/busybox, "true"]}
`), 0o644)
	run := func() (string, error) {
		cmd := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", f)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil {
		t.Fatalf("apply, the range free: %v\n%s", err, out)
	}
	waitNoPasta(t)
	l, err := net.Listen("tcp4", "127.0.0.1:18625")
	if err != nil {
		skipOrFail(t, "127.0.0.1:18625 is taken: "+err.Error())
	}
	defer l.Close()
	out, err := run()
	if err == nil {
		t.Fatalf("apply went on with the published TCP port 127.0.0.1:18625 another uid's:\n%s", out)
	}
	if !strings.Contains(out, "published TCP port 127.0.0.1:18625: another process's socket") {
		t.Errorf("apply: %v %s", err, out)
	}
	waitNoPasta(t)
}
