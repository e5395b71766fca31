package planner

import (
	"fmt"
	"net/netip"
	"os/exec"

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
		// said: a sandbox does not reach the host's local services.
		op.Args = append(op.Args, "--no-map-gw")
	}
	if n.DNS == nil {
		op.Args = append(op.Args, "--dns-forward", DNSForward.String())
	}
	// Every direction given, none left to pasta's default ("auto", which
	// forwards every port bound in the namespace, or on the host).
	var tcp, udp []string
	for _, p := range n.Ports {
		spec := portRange(p.HostFrom, p.HostTo) + ":" + portRange(p.From, p.To)
		if !p.HostIP.IsUnspecified() {
			spec = p.HostIP.String() + "/" + spec
		}
		if p.Proto == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
		op.Ports = append(op.Ports, p.String())
		if rootless && p.HostFrom < 1024 {
			ec.errorf(p.Pos, ec.field+".net.ports", "rootless, host port %d is below 1024, which only root may bind (or lower net.ipv4.ip_unprivileged_port_start)", p.HostFrom)
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

func portRange(a, b uint16) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}
