package main

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// reuseUDP binds a UDP socket to addr with SO_REUSEADDR, as any user of
// the host may: for UDP the option lets it share an address and port
// with every other socket that has it, whoever's, and the last one bound
// gets the datagrams.
func reuseUDP(addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(context.Background(), "udp4", addr)
}

// TestRootNetUDPPortExclusive: a published UDP port is the environment's
// alone. Debian 12's pasta binds it with SO_REUSEADDR, and any user of
// the host could bind the same address and port with that option and
// read (and answer) the datagrams sent to it (found by helper-86's
// review: an unprivileged user took every datagram sent to a root
// environment's 127.0.0.1 port and answered them). As root, nsup takes
// the option off pasta's socket: such a bind fails. And one bound
// before (or meanwhile) is refused: apply fails, naming it, and leaves
// no pasta.
func TestRootNetUDPPortExclusive(t *testing.T) {
	dir := pastaTestDir(t)
	f := netSpec(t, dir, `  dns:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user, ports: ["127.0.0.1:18612:5353/udp", "127.0.0.1:18613-18614:5354-5355/udp"]}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`)
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	for _, port := range []string{"18612", "18613", "18614"} {
		if c, err := reuseUDP("127.0.0.1:" + port); err == nil {
			c.Close()
			t.Errorf("another socket bound the published UDP port 127.0.0.1:%s beside pasta's", port)
		} else if !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("bind 127.0.0.1:%s: %v, want EADDRINUSE", port, err)
		}
	}
	if code, out, errs := nsup(t, "down", f); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
	waitNoPasta(t)
	// Taken before apply: refused.
	c, err := reuseUDP("127.0.0.1:18613")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, _, errs := nsup(t, "apply", "-d", f)
	if code == 0 {
		nsup(t, "down", f)
		t.Fatalf("apply -d went on with the published UDP port 127.0.0.1:18613 shared with another socket")
	}
	if !strings.Contains(errs, "published UDP port 127.0.0.1:18613: another process's socket") {
		t.Errorf("apply -d: %d %s", code, errs)
	}
	waitNoPasta(t)
}
