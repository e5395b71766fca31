package executor

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Published TCP ports, pasta's. Debian 12's pasta, given a range of
// ports (-t ADDR/A-B:C-D), goes on when it binds only some of them (it
// fails when it binds none), so a user of the host who listened on one
// of them first kept it: the plan, ps and nsup port said the port was
// the environment's, and that user's server answered its clients
// (helper-92's review). As root, nsup checks once pasta is up that each
// published TCP address and port has a listening socket of pasta's (its
// fds' socket inodes), and no other process's, whose address is the
// same or either one's is the unspecified one, of the same family (a
// listener on [::] that lives beside pasta's on 127.0.0.1 is IPv6's
// alone: a dual-stack one could not have been bound). While pasta
// listens, no other listener may bind the port (TCP shares a listening
// port with no one, SO_REUSEADDR or not; SO_REUSEPORT only with the
// same uid, root's).
// Rootless, pasta is not dumpable and its fds are out of the user's
// reach: a listening socket of the caller's uid counts as pasta's (the
// user's own processes are the user's), one of another uid does not.

// pastaListens fails unless pasta (pid) listens on every one of binds
// and no other process's socket does (rootless: no other uid's).
func pastaListens(pid int, binds []netip.AddrPort, rootless bool) error {
	if len(binds) == 0 {
		return nil
	}
	var own map[string]int // pasta's socket inodes
	if !rootless {
		var err error
		if own, err = socketFds(pid); err != nil {
			return err
		}
	}
	uid := strconv.Itoa(os.Getuid())
	ours := func(s inetSocket) bool {
		_, ok := own[s.inode]
		return ok || rootless && s.uid == uid
	}
	found := map[netip.AddrPort]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		socks, err := inetSockets(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			return err
		}
		for _, s := range socks {
			if s.state != "0A" { // not listening: gets no connection
				continue
			}
			for _, ap := range binds {
				if s.ap.Port() != ap.Port() {
					continue
				}
				if ours(s) && s.ap.Addr() == ap.Addr() {
					found[ap] = true
				} else if !ours(s) && s.ap.Addr().Is4() == ap.Addr().Is4() && (s.ap.Addr() == ap.Addr() || s.ap.Addr().IsUnspecified() || ap.Addr().IsUnspecified()) {
					return fmt.Errorf("published TCP port %s: another process's socket (inode %s, uid %s) listens on %s, and would take its connections: %w", ap, s.inode, s.uid, s.ap, unix.EADDRINUSE)
				}
			}
		}
	}
	for _, ap := range binds {
		if !found[ap] {
			return fmt.Errorf("published TCP port %s: pasta does not listen on it: %w", ap, unix.EADDRINUSE)
		}
	}
	return nil
}
