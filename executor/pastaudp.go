package executor

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Published UDP ports, made the environment's alone. Debian 12's pasta
// binds them with SO_REUSEADDR, which for UDP lets any other socket with
// the option bind the same address and port, whoever's: a user of the
// host binds 127.0.0.1:PORT so, and the datagrams sent to the published
// port are its own to read and answer (the last socket bound gets them).
// podman meets this with pasta too (podman#23471). nsup, as root, takes
// the option off pasta's sockets once pasta is up (a copy of each through
// pidfd_getfd; an option is the socket's, not the fd's), after which such
// a bind fails (EADDRINUSE), and refuses to go on if another socket shares
// the port already (bound before pasta, or between its bind and now).
// Rootless, pasta is not dumpable, and its fds are out of the user's
// reach: the plan says so (network.go).

// exclusiveUDP takes SO_REUSEADDR off pasta's (pid) sockets bound to
// binds, and fails if a socket of another process shares one of them.
func exclusiveUDP(pid int, binds []netip.AddrPort) error {
	if len(binds) == 0 {
		return nil
	}
	want := map[netip.AddrPort]bool{}
	for _, b := range binds {
		want[b] = false
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	own, err := socketFds(pid) // pasta's socket inodes
	if err != nil {
		return err
	}
	for _, n := range own {
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			return fmt.Errorf("pidfd_getfd(pasta, %d): %w", n, err)
		}
		typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if typ == unix.SOCK_DGRAM {
			if ap, ok := sockAddrPort(fd); ok {
				if _, ok := want[ap]; ok {
					err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 0)
					want[ap] = true
				}
			}
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("setsockopt(pasta's fd %d, SO_REUSEADDR, 0): %w", n, err)
		}
	}
	for ap, found := range want {
		if !found {
			return fmt.Errorf("pasta has no UDP socket bound to %s: %w", ap, unix.ENOENT)
		}
	}
	// Now no socket may join them; one that did before is another's.
	for _, f := range []string{"udp", "udp6"} {
		socks, err := inetSockets(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			return err
		}
		for _, s := range socks {
			if _, ok := own[s.inode]; ok {
				continue
			}
			for ap := range want {
				if s.ap.Port() == ap.Port() && (s.ap.Addr() == ap.Addr() || s.ap.Addr().IsUnspecified() || ap.Addr().IsUnspecified()) {
					return fmt.Errorf("published UDP port %s: another process's socket (inode %s, uid %s) is bound to %s too, and would take its datagrams: %w", ap, s.inode, s.uid, s.ap, unix.EADDRINUSE)
				}
			}
		}
	}
	return nil
}

// socketFds is, by socket inode, the number of each fd of process pid's
// that is a socket (pasta's, whose published ports are checked).
func socketFds(pid int) (map[string]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		n, nerr := strconv.Atoi(e.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && err == nil && nerr == nil {
			out[strings.TrimSuffix(inode, "]")] = n
		}
	}
	return out, nil
}

// sockAddrPort is the address and port fd is bound to, IPv4 unmapped.
func sockAddrPort(fd int) (netip.AddrPort, bool) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// inetSocket is a line of /proc/net/udp, udp6, tcp or tcp6.
type inetSocket struct {
	ap         netip.AddrPort
	uid, inode string
	// state is the socket's state, in hex: 0A is TCP's LISTEN.
	state string
}

// inetSockets reads /proc/PID/net/udp, udp6, tcp or tcp6: each local
// address (hex, each 32-bit word of it as a number in host order) and
// port, with the socket's state, uid and inode.
func inetSockets(path string) ([]inetSocket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []inetSocket
	sc := bufio.NewScanner(f)
	sc.Scan() // the heading
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 {
			continue
		}
		a, p, ok := strings.Cut(fl[1], ":")
		port, perr := strconv.ParseUint(p, 16, 16)
		if !ok || perr != nil || (len(a) != 8 && len(a) != 32) {
			return nil, fmt.Errorf("%s: %q: %w", path, fl[1], unix.EINVAL)
		}
		raw := make([]byte, len(a)/2)
		for i := 0; i < len(a); i += 8 {
			w, err := strconv.ParseUint(a[i:i+8], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, fl[1], unix.EINVAL)
			}
			binary.NativeEndian.PutUint32(raw[i/2:], uint32(w))
		}
		addr, _ := netip.AddrFromSlice(raw)
		out = append(out, inetSocket{ap: netip.AddrPortFrom(addr.Unmap(), uint16(port)), state: fl[3], uid: fl[7], inode: fl[9]})
	}
	return out, sc.Err()
}
