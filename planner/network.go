package planner

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// DNSForward is the address inside a user-mode network whose DNS queries
// pasta forwards to the host's first name server (podman's choice): the
// default name server of the environment's resolv.conf.
var DNSForward = netip.AddrFrom4([4]byte{169, 254, 1, 1})

// PastaMTU is the MTU of the namespace's interface: 65520, the most an
// 802.3 frame carries, pasta's and podman's default.
const PastaMTU = 65520

// tunUsable says whether this process may open /dev/net/tun, which
// rootless pasta opens in the namespace (as its user).
var tunUsable = func() bool { return unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK) == nil }

// lookPasta finds pasta on the PATH.
var lookPasta = func() (string, error) { return exec.LookPath("pasta") }

// network plans the environment's user-mode network (net.network: user):
// pasta against the child's network namespace, after the clone (and the
// maps), before the child goes on.
func (ec *envCompiler) network() {
	e := ec.e
	n := e.Net
	if n == nil || n.Network != spec.NetworkUser || !e.HasNamespace(spec.NSNet) {
		return
	}
	field := ec.field + ".net.network"
	if !ec.isNew(spec.NSPID) && ec.joined(spec.NSPID) == nil {
		ec.errorf(n.NetworkPos, field, "network: user needs a pid namespace of the environment's (add pid to namespaces): pasta and nsup's keeper of it run as you on the host, and must be out of reach of the environment's processes (a signal would stop them)")
	}
	prog, err := lookPasta()
	if err != nil {
		ec.errorf(n.NetworkPos, field, "network: user needs pasta, which is not installed (apt-get install passt): %v", err)
		return
	}
	rootless := !ec.caller.Privileged
	if rootless && !tunUsable() {
		ec.errorf(n.NetworkPos, field, "rootless, pasta opens /dev/net/tun as you, and may not: make it mode 0666, as distributions do (chmod 0666 /dev/net/tun, or a udev rule), or run nsup as root")
		return
	}
	op := Pasta{Program: prog, UserNS: rootless}
	op.Args = []string{"--config-net", "--foreground", "--quiet", "--mtu", fmt.Sprint(PastaMTU)}
	fd := 3
	if !rootless {
		// pasta run as root changes to nobody, who may not enter the
		// namespace; as root it keeps only CAP_SYS_ADMIN and
		// CAP_NET_BIND_SERVICE, in namespaces of its own, under seccomp.
		op.Args = append(op.Args, "--runas", "0")
	}
	op.Args = append(op.Args, "--netns", fmt.Sprintf("/proc/self/fd/%d", fd))
	fd++
	if rootless {
		op.Args = append(op.Args, "--userns", fmt.Sprintf("/proc/self/fd/%d", fd))
		fd++
	}
	op.Args = append(op.Args, "--pid", fmt.Sprintf("/proc/self/fd/%d", fd))
	if n.HostLoopback == nil || !n.HostLoopback.Value {
		// The gateway address is the host's loopback unless this is
		// said. (The host's other addresses are reached as any host's
		// are: pasta connects from the host.)
		op.Args = append(op.Args, "--no-map-gw")
		// A process that may write raw frames (CAP_NET_RAW) or route
		// 127.0.0.0/8 out of the tap (CAP_NET_ADMIN) sends pasta packets
		// for 127.0.0.1, which it connects to on the host.
		if c := reachesHostLoopback(e); c != "" {
			ec.errorf(n.NetworkPos, ec.field+".net.network", "with %s kept, a process inside can reach the host's loopback through pasta whatever host_loopback says: drop it (security.capabilities.drop), or say host_loopback: true", c)
		}
	}
	if n.DNS == nil {
		op.Args = append(op.Args, "--dns-forward", DNSForward.String())
	}
	// Every direction given, none left to pasta's default ("auto", which
	// forwards every port bound in the namespace, or on the host).
	var tcp, udp []string
	for _, p := range n.Ports {
		// Always the address: pasta takes none (nor 0.0.0.0 or ::) as
		// both families'.
		spec := p.HostIP.String() + "/" + p.HostPorts() + ":" + p.Ports()
		if p.Proto == "udp" {
			udp = append(udp, spec)
			if rootless && len(udp) == 1 {
				// As root, apply takes SO_REUSEADDR off pasta's sockets
				// (executor/pastaudp.go); rootless, pasta is not
				// dumpable and its fds are out of reach.
				ec.notes = append(ec.notes, fmt.Sprintf("%s.net.ports: rootless, a published UDP port may be shared: Debian 12's pasta binds it with SO_REUSEADDR, so another user of the host may bind the same address and port (with that option too) and take the datagrams sent to it; nsup takes the option off as root only", ec.field))
			}
		} else {
			tcp = append(tcp, spec)
		}
		op.Ports = append(op.Ports, p.String())
		if start := unprivilegedPortStart(); rootless && int(p.HostFrom) < start {
			ec.errorf(p.Pos, ec.field+".net.ports", "rootless, host port %d is below %d (net.ipv4.ip_unprivileged_port_start), which only root may bind: choose a port from %d, or lower that setting", p.HostFrom, start, start)
		}
	}
	for _, d := range []struct {
		flag  string
		specs []string
	}{{"-t", tcp}, {"-u", udp}, {"-T", nil}, {"-U", nil}} {
		if len(d.specs) == 0 {
			op.Args = append(op.Args, d.flag, "none")
		}
		for _, s := range d.specs {
			op.Args = append(op.Args, d.flag, s)
		}
	}
	ec.add(Host, n.NetworkPos, op)
}

// etcFiles plans the environment's /etc/resolv.conf and /etc/hosts, for
// one whose spec says `net`, or that joins the network of one that does
// by name: generated, and put read-only over the rootfs's own (EtcFile),
// which must exist (the rootfs is not written); a spec's own mount there
// wins.
func (ec *envCompiler) etcFiles() {
	e := ec.e
	n := ec.netSpec()
	if n == nil {
		return
	}
	if !ec.isNew(spec.NSMount) {
		// A joined mount namespace is another's (or the host's): its
		// files are not this environment's to cover.
		ec.notes = append(ec.notes, "/etc/resolv.conf and /etc/hosts not generated: the mount namespace is joined, and its files are not this environment's to cover")
		return
	}
	names := []string{e.Name}
	if e.Hostname != nil {
		if e.Hostname.Value == e.Name {
			// Named once.
		} else if spec.HostsName(e.Hostname.Value) {
			names = append([]string{e.Hostname.Value}, names...)
		} else {
			ec.notes = append(ec.notes, fmt.Sprintf("hostname %q is not a name /etc/hosts may hold (letters, digits, '-', '_' and '.'): left out of it", e.Hostname.Value))
		}
	}
	var hosts strings.Builder
	hosts.WriteString("# nsup: generated for " + e.Name + "\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", strings.Join(names, " "))
	// The environments on the same network (the one whose it is, and
	// every one that joins it by name): on this loopback.
	owner := e.Name
	if j := e.Joined(spec.NSNet); j != nil && !j.IsPath() {
		owner = j.Ref
	}
	var peers []string
	for _, o := range ec.s.Environments {
		if o.Name == e.Name {
			continue
		}
		if j := o.Joined(spec.NSNet); o.Name == owner || j != nil && !j.IsPath() && j.Ref == owner {
			peers = append(peers, o.Name)
		}
	}
	if len(peers) > 0 {
		fmt.Fprintf(&hosts, "127.0.0.1\t%s\n", strings.Join(peers, " "))
	}
	for _, h := range n.Hosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.Addr, h.Name)
	}
	var resolv strings.Builder
	resolv.WriteString("# nsup: generated for " + e.Name + "\n")
	servers := n.DNS
	if servers == nil && n.Network == spec.NetworkUser {
		servers = []netip.Addr{DNSForward}
	}
	for _, s := range servers {
		fmt.Fprintf(&resolv, "nameserver %s\n", s)
	}
	for _, f := range []struct{ path, content string }{{"/etc/resolv.conf", resolv.String()}, {"/etc/hosts", hosts.String()}} {
		if ec.mountedAt(f.path) {
			continue
		}
		if !ec.rootHasFile(f.path) {
			ec.notes = append(ec.notes, fmt.Sprintf("%s not generated: the rootfs has no file there to put it over (nsup does not write the rootfs): make an empty one", f.path))
			continue
		}
		ec.add(Child, n.Pos, EtcFile{Target: f.path, Root: ec.root, Content: f.content})
	}
}

// reachesHostLoopback is the capability of e's (CAP_NET_RAW or
// CAP_NET_ADMIN) with which a process in a pasta network reaches the
// host's loopback, "" if none.
func reachesHostLoopback(e *spec.Environment) string {
	for _, c := range Capabilities(e) {
		if c == "CAP_NET_RAW" || c == "CAP_NET_ADMIN" {
			return c
		}
	}
	return ""
}

// joinedNetwork refuses what network refuses to the network's own
// environment to one that joins its network namespace by name (a pod's
// member too): a capability that reaches the host's loopback through
// pasta where host_loopback is not said (found by a review: the check
// was the owner's only).
func (ec *envCompiler) joinedNetwork() {
	j := ec.e.Joined(spec.NSNet)
	if j == nil {
		return
	}
	if j.IsPath() {
		// Whose network it is, and whether pasta serves it, is not known
		// here: said, with the capability that would matter.
		if c := reachesHostLoopback(ec.e); c != "" {
			ec.notes = append(ec.notes, fmt.Sprintf("%s.join.net: %s is joined by path with %s kept: if pasta serves it (another environment's network: user without host_loopback), a process inside reaches the host's loopback through it", ec.field, j.Ref, c))
		}
		return
	}
	owner := ec.s.NamespaceOwner(j.Ref, spec.NSNet)
	if owner == nil || !owner.HasNamespace(spec.NSNet) {
		return
	}
	n := owner.Net
	if n == nil || n.Network != spec.NetworkUser || n.HostLoopback != nil && n.HostLoopback.Value {
		return
	}
	if c := reachesHostLoopback(ec.e); c != "" {
		ec.errorf(j.Pos, ec.field+".join.net", "with %s kept, a process inside can reach the host's loopback through the pasta network of %s it joins, whatever host_loopback says there: drop it (security.capabilities.drop), or say host_loopback: true in %s", c, owner.Name, owner.Name)
	}
}

// mountedAt says whether the spec mounts something at p or above it.
func (ec *envCompiler) mountedAt(p string) bool {
	for _, m := range ec.e.Mounts {
		if m.Target == p || strings.HasPrefix(p, strings.TrimSuffix(m.Target, "/")+"/") {
			return true
		}
	}
	return false
}

// rootHasFile says whether the rootfs has a regular file at p (symlinks
// followed inside it): looked up in the tree, or for a tar root in what
// its archive was found to have there (taretc.go; nothing is known of
// one the walk refuses, which the rootfs step refuses first).
func (ec *envCompiler) rootHasFile(p string) bool {
	t := ec.baseView()
	if t == nil {
		return ec.tarEtc == "" || tarEtcHas(ec.tarEtc, p)
	}
	f, ok := resolveIn(t, p)
	return ok && f.Type == "file"
}

// unprivilegedPortStart is the least port an unprivileged process may
// bind (net.ipv4.ip_unprivileged_port_start; 1024 if it cannot be read).
var unprivilegedPortStart = func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// netSpec is the `net` the environment's generated files follow: its
// own, or that of the environment whose network it joins by name; nil
// for none.
func (ec *envCompiler) netSpec() *spec.Net {
	if n := ec.e.Net; n != nil {
		return n
	}
	if j := ec.e.Joined(spec.NSNet); j != nil && !j.IsPath() {
		if o := ec.s.Env(j.Ref); o != nil {
			return o.Net
		}
	}
	return nil
}

// EmptyDigest is the sha256 of no bytes.
const EmptyDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// etcPlaceholders adds empty /etc/resolv.conf and /etc/hosts to a
// closure tree (nsup's own, built for the environment) that lacks them,
// when the environment gets generated ones: they are put over these.
func (ec *envCompiler) etcPlaceholders() {
	if ec.netSpec() == nil || !ec.isNew(spec.NSMount) || ec.tree == nil {
		return
	}
	for _, p := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if ec.mountedAt(p) {
			continue
		}
		if _, ok := resolveIn(mapTree(ec.tree), p); ok {
			continue
		}
		if _, ok := ec.tree[p]; ok {
			continue // a link to nowhere: left as it is
		}
		ec.mkdirTree(path.Dir(p))
		if d, ok := ec.tree[path.Dir(p)]; ok && d.Type == "dir" {
			ec.tree[p] = File{Path: p, Type: "file", Mode: 0o644, Digest: EmptyDigest}
		}
	}
}
