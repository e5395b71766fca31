package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// getFromNetns fetches path from addr over HTTP/1.0 from the network
// namespace of pid: the socket is made on a thread that joined it (and
// dies with its goroutine, never back in the pool).
func getFromNetns(pid, addr, path string) (string, error) {
	type res struct {
		body string
		err  error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with this goroutine
		fd, err := unix.Open("/proc/"+pid+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			c <- res{"", err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			c <- res{"", err}
			return
		}
		var last error
		for i := 0; i < 50; i++ {
			conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				last = err
				time.Sleep(50 * time.Millisecond)
				continue
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.0\r\n\r\n", path)
			b, err := io.ReadAll(conn)
			conn.Close()
			c <- res{string(b), err}
			return
		}
		c <- res{"", last}
	}()
	r := <-c
	return r.body, r.err
}

// TestRootNetPortClientAddress: a published port's client from another
// namespace (the test's, routed through a veth pair) arrives inside with
// its own address, not 127.0.0.1 (rootless podman's forwarder made every
// client 127.0.0.1 once, CVE-2021-20199, exposing services that trust
// their loopback); one on the host's loopback arrives from 127.0.0.1, as
// the spec says. The server inside is busybox httpd, whose CGI script
// prints REMOTE_ADDR.
func TestRootNetPortClientAddress(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	checkHost(t)
	pid := testNetns(t, "10.231.86")
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	f := netSpec(t, dir, `  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["0.0.0.0:18631:8080"]}
    mounts: [{type: bind, source: WWW, target: /www, readonly: true}]
    processes:
      - {name: main, command: [/bin/busybox, httpd, -f, -p, "8080", -h, /www]}
`)
	cgi := filepath.Join(dir, "www", "cgi-bin")
	os.MkdirAll(cgi, 0o755)
	if err := os.WriteFile(filepath.Join(cgi, "peer"), []byte("#!/bin/busybox sh\necho 'Content-Type: text/plain'\necho\necho \"peer $REMOTE_ADDR\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	defer nsup(t, "down", f)
	// httpd listens on both families: an IPv4 peer is v4-mapped.
	if body, err := httpGet("http://127.0.0.1:18631/cgi-bin/peer"); err != nil || body != "peer [::ffff:127.0.0.1]\n" {
		t.Errorf("from the host's loopback: %q %v, want peer 127.0.0.1", body, err)
	}
	if body, err := getFromNetns(pid, "10.231.86.1:18631", "/cgi-bin/peer"); err != nil || !strings.HasSuffix(body, "\n\npeer [::ffff:10.231.86.2]\n") {
		t.Errorf("from another namespace: %q %v, want peer 10.231.86.2", body, err)
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
	waitNoPasta(t)
}
