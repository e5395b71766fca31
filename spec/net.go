package spec

// `net`: an environment's network beyond loopback (user-mode, through
// pasta), its published ports, and its name resolution.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Net is an environment's `net:`.
type Net struct {
	Pos Pos // position of the `net` key
	// Network is NetworkNone (the default: loopback only) or NetworkUser.
	Network    string
	NetworkPos Pos
	// Ports are the published ports, in the order written.
	Ports []Port
	// HostLoopback lets the environment reach the host's loopback through
	// its gateway address (off by default).
	HostLoopback *Bool
	// DNS are the name servers of the generated resolv.conf, nil when
	// not written (the default: the user-mode network's forwarder).
	DNS    []netip.Addr
	DNSPos Pos
	// Hosts are extra entries of the generated /etc/hosts, in the order
	// written.
	Hosts []HostEntry
}

// The values of `network`.
const (
	NetworkNone = "none"
	NetworkUser = "user"
)

// Port is one published port (range): host address and ports to the
// environment's ports, compose's "[IP:]HOST:CONTAINER[/PROTO]".
type Port struct {
	HostIP   netip.Addr // 127.0.0.1 when not written
	HostFrom uint16
	HostTo   uint16 // = HostFrom for one port
	From, To uint16 // inside
	Proto    string // "tcp" or "udp"
	Text     string // as written
	Pos      Pos
}

// String is the port as compose writes it, the host address included.
func (p Port) String() string {
	return fmt.Sprintf("%s:%s:%s/%s", p.Host(), p.HostPorts(), p.Ports(), p.Proto)
}

// Host is the host address, IPv6 in brackets.
func (p Port) Host() string {
	if p.HostIP.Is6() {
		return "[" + p.HostIP.String() + "]"
	}
	return p.HostIP.String()
}

// HostPorts and Ports are the host's and the inside's port or range
// ("8080", "8000-8010").
func (p Port) HostPorts() string { return portRangeText(p.HostFrom, p.HostTo) }
func (p Port) Ports() string     { return portRangeText(p.From, p.To) }

func portRangeText(a, b uint16) string {
	if a == b {
		return strconv.Itoa(int(a))
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// HostEntry is one extra line of /etc/hosts.
type HostEntry struct {
	Name string
	Addr netip.Addr
	Pos  Pos
}

// DefaultPortIP is the host address a port is published on when the spec
// writes none: the loopback, so that a dev sandbox is not reachable from
// the network by default (compose's default, every address, is a known
// way to expose a database); "0.0.0.0:8080:80" publishes on every one.
var DefaultPortIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// NetKeys are the keys of `net`.
var NetKeys = []string{"network", "ports", "host_loopback", "dns", "hosts"}

func (d *decoder) net(n *yaml.Node, key *yaml.Node, at string) *Net {
	f, ok := d.fields(n, at, NetKeys...)
	if !ok {
		return nil
	}
	nt := &Net{Pos: pos(key), Network: NetworkNone, NetworkPos: pos(key)}
	if v, ok := f.get("network"); ok {
		if s, ok := d.str(v.val, at+".network"); ok {
			switch s {
			case NetworkNone, NetworkUser:
				nt.Network, nt.NetworkPos = s, pos(v.val)
			default:
				d.errorf(v.val, at+".network", "must be none (loopback only) or user (outbound through the host, user-mode: pasta), got %s", quote(s))
			}
		}
	}
	if v, ok := f.get("ports"); ok && d.isList(v.val, at+".ports") {
		seen := map[string]Pos{}
		for i, pn := range v.val.Content {
			pat := index(at+".ports", i)
			s, ok := d.str(pn, pat)
			if !ok {
				continue
			}
			p, err := ParsePort(s)
			if err != nil {
				d.errorf(pn, pat, "%v", err)
				continue
			}
			p.Pos = pos(pn)
			for port := int(p.HostFrom); port <= int(p.HostTo); port++ {
				k := fmt.Sprintf("%s/%d/%s", p.HostIP, port, p.Proto)
				if first, dup := seen[k]; dup {
					d.errorf(pn, pat, "host port %d/%s on %s is published twice (first at line %d)", port, p.Proto, p.HostIP, first.Line)
					ok = false
					break
				}
				seen[k] = p.Pos
			}
			if ok {
				nt.Ports = append(nt.Ports, p)
			}
		}
		if len(nt.Ports) > 0 && nt.Network != NetworkUser {
			d.errorf(v.key, at+".ports", "ports are published through the user-mode network: add network: user")
		}
	}
	if v, ok := f.get("host_loopback"); ok {
		if b, ok := d.boolean(v.val, at+".host_loopback"); ok {
			nt.HostLoopback = &Bool{Value: b, Pos: pos(v.val)}
			if b && nt.Network != NetworkUser {
				d.errorf(v.val, at+".host_loopback", "the host's loopback is reached through the user-mode network: add network: user")
			}
		}
	}
	if v, ok := f.get("dns"); ok && d.isList(v.val, at+".dns") {
		nt.DNSPos = pos(v.key)
		nt.DNS = []netip.Addr{}
		for i, an := range v.val.Content {
			pat := index(at+".dns", i)
			s, ok := d.str(an, pat)
			if !ok {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				d.errorf(an, pat, "must be an IPv4 or IPv6 address, got %s", quote(s))
				continue
			}
			nt.DNS = append(nt.DNS, a)
		}
		if len(v.val.Content) > 3 {
			d.errorf(v.key, at+".dns", "at most 3 name servers (the resolver reads no more), got %d", len(v.val.Content))
		}
	}
	if v, ok := f.get("hosts"); ok {
		if ps, ok := d.pairs(v.val, at+".hosts"); ok {
			for _, p := range ps {
				pat := keyPath(at+".hosts", p.name)
				if !HostsName(p.name) {
					d.errorf(p.key, pat, "%s is not a host name (letters, digits, '-', '_' and '.', at most 253)", quote(p.name))
					continue
				}
				s, ok := d.str(p.val, pat)
				if !ok {
					continue
				}
				a, err := netip.ParseAddr(s)
				if err != nil || a.Zone() != "" {
					d.errorf(p.val, pat, "must be an IPv4 or IPv6 address, got %s", quote(s))
					continue
				}
				nt.Hosts = append(nt.Hosts, HostEntry{Name: p.name, Addr: a, Pos: pos(p.key)})
			}
		}
	}
	return nt
}

// ParsePort reads compose's short port syntax: [IP:]HOST:CONTAINER[/PROTO],
// HOST and CONTAINER one port or a range of the same length (8000-8010),
// IP in brackets for IPv6 ([::1]:8080:80), PROTO tcp (the default) or udp.
// The host address defaults to DefaultPortIP.
func ParsePort(s string) (Port, error) {
	p := Port{Text: s, Proto: "tcp", HostIP: DefaultPortIP}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		p.Proto = rest[i+1:]
		rest = rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return p, fmt.Errorf("%s: the protocol must be tcp or udp, got %s", quote(s), quote(p.Proto))
		}
	}
	var ip string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("%s: an IPv6 address is written in brackets, followed by a colon: [::1]:8080:80", quote(s))
		}
		ip, rest = rest[1:end], rest[end+2:]
	} else if parts := strings.Split(rest, ":"); len(parts) == 3 {
		ip, rest = parts[0], parts[1]+":"+parts[2]
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return p, fmt.Errorf("%s: %s is not an IP address", quote(s), quote(ip))
		}
		p.HostIP = a
	}
	host, inside, ok := strings.Cut(rest, ":")
	if !ok {
		return p, fmt.Errorf("%s: write HOST:CONTAINER (8080:80), with the host address first if not 127.0.0.1 (0.0.0.0:8080:80); a port without a host port is not published here", quote(s))
	}
	var err error
	if p.HostFrom, p.HostTo, err = portRange(host); err != nil {
		return p, fmt.Errorf("%s: host port: %v", quote(s), err)
	}
	if p.From, p.To, err = portRange(inside); err != nil {
		return p, fmt.Errorf("%s: container port: %v", quote(s), err)
	}
	if p.HostTo-p.HostFrom != p.To-p.From {
		return p, fmt.Errorf("%s: the host range and the container range must be of the same length", quote(s))
	}
	return p, nil
}

// portRange reads "80" or "8000-8010".
func portRange(s string) (uint16, uint16, error) {
	a, b, isRange := strings.Cut(s, "-")
	from, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	to := from
	if isRange {
		if to, err = portNumber(b); err != nil {
			return 0, 0, err
		}
		if to < from {
			return 0, 0, fmt.Errorf("%s: a range goes up", quote(s))
		}
	}
	return from, to, nil
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || strings.HasPrefix(s, "+") || len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%s is not a port (1 to 65535)", quote(s))
	}
	return uint16(n), nil
}

// HostsName says whether s may be a name in /etc/hosts: a DNS name's
// letters, no space, newline or '#' to break the line.
func HostsName(s string) bool {
	if s == "" || len(s) > 253 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
