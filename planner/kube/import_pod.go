package kube

// Import's Pods: the namespaces, network, restart policy and volumes a
// Pod has for all its containers.

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/spec"
)

// podInfo is what a Pod gives all its containers.
type podInfo struct {
	name                                 string
	hostNetwork, hostPID, hostIPC, share bool
	userns                               bool
	restart                              string // nsup's policy
	grace                                int64  // seconds
	hostname                             string
	// sc is the Pod's securityContext, the default of its containers'.
	sc *secContext
	// volumes are the Pod's volumes by name, and in order.
	volumes     map[string]*podVolume
	volumeOrder []*podVolume
	// first is the environment that owns the Pod's namespaces; ports,
	// dns and hosts are its net's.
	first *envOut
	ports *yaml.Node
	// hostPorts: containers of a Pod on the host's network have ports.
	hostPorts bool
	// processes are the main processes' names, from AnnotationProcesses.
	processes map[string]string
	// pids are podman's pids-limit annotations, by container.
	pids map[string]*yaml.Node
	// names are the containers' names in the manifest.
	names map[string]bool
}

// podVolume is one of a Pod's volumes, as a mount of the spec.
type podVolume struct {
	node *yaml.Node // the volume's list item
	at   string
	// kind is "tmpfs", "volume", "bind", or "" for one nsup has not.
	kind   string
	medium string
	size   int64
	source string // volume: the spec's volume; bind: the host path
	create bool
	// readonly: the claim is read-only.
	readonly bool
	used     bool
}

// pod translates a Pod: each container an environment, the first owning
// the namespaces the others join.
func (m *importer) pod(o *obj) {
	p := &podInfo{restart: "always", grace: 30, volumes: map[string]*podVolume{}, processes: map[string]string{}, pids: map[string]*yaml.Node{}, names: map[string]bool{}}
	md := m.object(o.get("metadata"), "metadata")
	name, nameN := md.str("name")
	p.name = name
	m.metadata(md, p)
	sp := m.object(o.get("spec"), "spec")
	if sp == nil {
		m.fail(o.n, "spec", "a Pod needs a spec")
		return
	}
	o.rest(map[string]string{"status": "not carried: the Pod's state, not its spec"}, notCarried)

	p.hostNetwork, _ = sp.boolean("hostNetwork")
	p.hostPID, _ = sp.boolean("hostPID")
	p.hostIPC, _ = sp.boolean("hostIPC")
	// What takes confinement away is said, whoever wrote the manifest:
	// the spec printed must not look more harmless than it is.
	for _, h := range []struct {
		key  string
		on   bool
		what string
	}{{"hostNetwork", p.hostNetwork, "network (its interfaces, its loopback's services, ports bound on the host)"},
		{"hostPID", p.hostPID, "pid namespace (every process of the host is seen, and signalled where permissions allow)"},
		{"hostIPC", p.hostIPC, "IPC namespace (its shared memory and semaphores)"}} {
		if h.on {
			m.note(sp.keyNode(h.key), "spec."+h.key, "less confined: the environments are in the host's %s", h.what)
		}
	}
	if p.hostPID {
		m.note(sp.keyNode("hostPID"), "spec.hostPID", "refused by nsup's planner as written when root applies it: root inside the host's pid namespace could signal and ptrace the host's processes (and through the proc mount, the host's /proc, reach the host's root): leave hostPID out")
	}
	p.share, _ = sp.boolean("shareProcessNamespace")
	if v, n := sp.boolean("hostUsers"); n != nil && !v {
		p.userns = true
	}
	if r, n := sp.str("restartPolicy"); n != nil {
		switch r {
		case "Always":
			p.restart = "always"
		case "OnFailure":
			p.restart = "on-failure"
		case "Never":
			p.restart = "no"
		default:
			m.fail(n, "spec.restartPolicy", "must be Always, OnFailure or Never, got %q", r)
		}
	}
	if g, n := sp.integer("terminationGracePeriodSeconds"); n != nil {
		if g < 0 {
			m.fail(n, "spec.terminationGracePeriodSeconds", "must not be negative")
		}
		p.grace = g
	}
	if h, n := sp.str("hostname"); n != nil {
		if !isDNSLabel(h) {
			m.fail(n, "spec.hostname", "%q is not a hostname Kubernetes takes: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", h)
		}
		p.hostname = h
		if p.hostNetwork {
			m.note(n, "spec.hostname", "not carried: with the host's network, the host's UTS namespace and hostname")
		}
	} else if nameN != nil {
		// The kubelet's default: the Pod's name, cut at 63 bytes.
		p.hostname = strings.TrimRight(name[:min(len(name), 63)], "-.")
	}
	p.sc = m.secContext(m.object(sp.get("securityContext"), "spec.securityContext"), true)
	m.podVolumes(sp, p)
	containers := sp.list("containers")
	if len(containers) == 0 {
		if sp.get("containers") == nil || len(m.errs) == 0 {
			m.fail(sp.keyNode("containers"), "spec.containers", "a Pod needs at least one container")
		}
		return
	}
	for i, c := range containers {
		if co := m.object(c, fmt.Sprintf("spec.containers[%d]", i)); co != nil {
			if n, nn := co.str("name"); nn != nil {
				p.names[n] = true
			}
		}
	}
	for i, c := range containers {
		co := m.object(c, fmt.Sprintf("spec.containers[%d]", i))
		if co == nil {
			if isNull(c) {
				m.fail(c, fmt.Sprintf("spec.containers[%d]", i), "must be a container")
			}
			continue
		}
		m.container(co, p, i == 0 || p.first == nil)
	}
	m.podNetwork(sp, p)
	for _, v := range p.volumeOrder {
		if !v.used {
			m.note(v.node, v.at, "not carried: no container mounts it")
		}
	}
	for _, c := range slices.Sorted(maps.Keys(p.pids)) {
		if !p.names[c] {
			m.note(p.pids[c], "metadata.annotations."+podmanPidsLimit+c, "not carried: no container %s", c)
		}
	}
	sp.rest(map[string]string{
		"initContainers":      "not carried: nsup has no init containers: make each an environment the others depend on (depends_on)",
		"ephemeralContainers": "not carried: nsup exec runs a command in a running environment instead",
		"subdomain":           "not carried: nsup has no cluster DNS",
		"nodeName":            "not carried: nsup runs on this host",
		"nodeSelector":        "not carried: nsup runs on this host",
		"affinity":            "not carried: nsup runs on this host",
		"tolerations":         "not carried: nsup runs on this host",
		"serviceAccountName":  "not carried: nsup has no service accounts",
		"serviceAccount":      "not carried: nsup has no service accounts",
		"imagePullSecrets":    "not carried: nsup pulls no image",
		"priorityClassName":   "not carried: nsup has no priorities",
		"dnsPolicy":           "not carried: nsup has no cluster DNS; its resolv.conf names net.dns, or pasta's forwarder to the host's name server",
	}, notCarried)
}

// metadata reads a Pod's labels and annotations: nsup's own give the
// project and the processes' names; the others are noted.
func (m *importer) metadata(md *obj, p *podInfo) {
	if md == nil {
		return
	}
	labels := m.object(md.get("labels"), "metadata.labels")
	if labels != nil {
		labels.get(LabelName)
		labels.get(LabelManagedBy)
		if v, n := labels.str(LabelProject); n != nil {
			if m.projectSeen && m.project != v {
				m.projectBad = true
			}
			m.project, m.projectSeen, m.projectN = v, true, n
		}
	}
	labels.rest(nil, "not carried: nsup has no labels")
	ann := m.object(md.get("annotations"), "metadata.annotations")
	if ann != nil {
		ann.get(AnnotationSpec)
		ann.get(AnnotationDigest)
		if v, n := ann.str(AnnotationProcesses); n != nil {
			for _, kv := range strings.Split(v, ",") {
				if c, proc, ok := strings.Cut(kv, "="); ok && proc != "" {
					p.processes[c] = proc
				}
			}
		}
		for i := 0; i+1 < len(ann.n.Content); i += 2 {
			k := ann.n.Content[i].Value
			if c, ok := strings.CutPrefix(k, podmanPidsLimit); ok {
				ann.get(k)
				p.pids[c] = ann.n.Content[i+1]
			}
		}
	}
	ann.rest(nil, "not carried: nsup has no annotations")
	md.get("name")
	md.rest(map[string]string{
		"namespace":    "not carried: nsup has no namespaces of objects (its projects are the spec's name)",
		"generateName": "not carried: an environment's name is the container's",
	}, "not carried: the object's metadata")
}

// podVolumes reads the Pod's volumes.
func (m *importer) podVolumes(sp *obj, p *podInfo) {
	for i, vn := range sp.list("volumes") {
		at := fmt.Sprintf("spec.volumes[%d]", i)
		vo := m.object(vn, at)
		if vo == nil {
			continue
		}
		name, nameN := vo.str("name")
		if nameN == nil {
			m.fail(vn, at+".name", "a volume needs a name")
			continue
		}
		v := &podVolume{node: vn, at: at}
		if ed := m.object(vo.get("emptyDir"), at+".emptyDir"); ed != nil || vo.get("emptyDir") != nil {
			v.kind = "tmpfs"
			if ed != nil {
				v.medium, _ = ed.str("medium")
				if s, sn := ed.str("sizeLimit"); sn != nil {
					q, err := parseQuantity(s)
					if err != nil {
						m.fail(sn, at+".emptyDir.sizeLimit", "%v", err)
					} else if b, ok := ceilInt(q); ok && b > 0 {
						v.size = b
					}
				}
				ed.rest(nil, notCarried)
			}
			if v.medium != "Memory" {
				m.note(vo.keyNode("emptyDir"), at+".emptyDir", "translated: a tmpfs, in memory, not a folder on the node's disk (medium: Memory is the same)")
			}
		} else if pvc := m.object(vo.get("persistentVolumeClaim"), at+".persistentVolumeClaim"); pvc != nil {
			cn, cnN := pvc.str("claimName")
			if cnN == nil {
				m.fail(pvc.n, at+".persistentVolumeClaim.claimName", "a claim needs its name")
				continue
			}
			c := m.claims[cn]
			if c == nil {
				c = &claim{name: volumeName(cn)}
				m.claims[cn] = c
			}
			v.kind, v.source = "volume", c.name
			v.readonly, _ = pvc.boolean("readOnly")
			m.useVolume(c)
			pvc.rest(nil, notCarried)
		} else if hp := m.object(vo.get("hostPath"), at+".hostPath"); hp != nil {
			path, pn := hp.str("path")
			if pn == nil || !strings.HasPrefix(path, "/") {
				m.fail(hp.n, at+".hostPath.path", "a hostPath needs an absolute path")
				continue
			}
			if slices.Contains(strings.Split(path, "/"), "..") {
				// Kubernetes refuses it too; nsup would bind the path
				// cleaned, which the spec would not show: /srv/x/../../etc
				// is /etc, whatever /srv/x is (a review hid it further
				// with U+202E as x).
				m.fail(pn, at+".hostPath.path", "must not contain '..', as Kubernetes requires: write the path it leads to")
				continue
			}
			v.kind, v.source = "bind", path
			m.note(hp.n, at+".hostPath", "less confined: the host's %s is bound into the environment (writable unless the volumeMount says readOnly)", path)
			if t, tn := hp.str("type"); tn != nil {
				switch t {
				case "", "Directory":
				case "DirectoryOrCreate":
					v.create = true
				default:
					m.note(tn, at+".hostPath.type", "not carried: nsup binds whatever is at %s, and makes only a missing folder (create: true); %s is not checked", path, t)
				}
			}
			hp.rest(nil, notCarried)
		} else {
			for i := 0; i+1 < len(vo.n.Content); i += 2 {
				if k := vo.n.Content[i].Value; k != "name" {
					vo.get(k)
					m.note(vo.n.Content[i], at+"."+k, "not carried: nsup has no %s volume (its mounts are tmpfs, named volumes and binds of host paths)", k)
				}
			}
		}
		vo.rest(nil, notCarried)
		if p.volumes[name] != nil {
			m.fail(nameN, at+".name", "volume %s is declared twice", name)
		}
		p.volumes[name] = v
		p.volumeOrder = append(p.volumeOrder, v)
	}
}

// podNetwork gives the first environment the Pod's network: the ports of
// every container, the name servers, the /etc/hosts entries.
func (m *importer) podNetwork(sp *obj, p *podInfo) {
	first := p.first
	dnsPolicy, dpN := sp.str("dnsPolicy")
	dc := m.object(sp.get("dnsConfig"), "spec.dnsConfig")
	aliases := sp.list("hostAliases")
	if first == nil {
		return
	}
	if p.hostNetwork {
		if p.hostPorts {
			m.note(sp.keyNode("hostNetwork"), "spec.hostNetwork", "not carried: the containers' ports: with the host's network, they listen on the host's directly")
		}
		if dc != nil {
			m.note(dc.n, "spec.dnsConfig", "not carried: with the host's network, nsup writes no resolv.conf (the rootfs's own is used)")
			dc.used = map[string]bool{"nameservers": true, "searches": true, "options": true}
		}
		if len(aliases) > 0 {
			m.note(sp.keyNode("hostAliases"), "spec.hostAliases", "not carried: with the host's network, nsup writes no /etc/hosts (the rootfs's own is used)")
		}
		if dpN != nil {
			sp.used["dnsPolicy"] = true
		}
		return
	}
	net := mapping(false, "network", str("user"))
	if p.ports != nil {
		set(net, "ports", p.ports)
	}
	if dc != nil {
		servers, sn := dc.strings("nameservers")
		if sn != nil {
			var list []string
			for _, s := range servers {
				if a, err := netip.ParseAddr(s); err == nil {
					list = append(list, a.String())
				} else {
					m.note(sn, "spec.dnsConfig.nameservers", "not carried: %q is not an address", s)
				}
			}
			if len(list) > 3 {
				m.note(sn, "spec.dnsConfig.nameservers", "not carried: nsup takes 3 name servers at most, as resolv.conf: %s", strings.Join(list[3:], " "))
				list = list[:3]
			}
			if len(list) > 0 {
				set(net, "dns", strList(list))
			}
		}
		dc.rest(map[string]string{
			"searches": "not carried: nsup's resolv.conf lists name servers only",
			"options":  "not carried: nsup's resolv.conf lists name servers only",
		}, notCarried)
		if dpN != nil && dnsPolicy == "None" {
			sp.used["dnsPolicy"] = true
		}
	}
	if dpN != nil && dnsPolicy == "Default" {
		sp.used["dnsPolicy"] = true // the host's name server, as pasta's forwarder asks
	}
	hosts := &yaml.Node{Kind: yaml.MappingNode}
	// The names' values, by name: a lookup in hosts itself is a scan,
	// 28,000 names of a manifest within its bound took 2 s so (and past
	// the test's 5 s on a busy machine).
	byName := map[string]*yaml.Node{}
	for i, a := range aliases {
		at := fmt.Sprintf("spec.hostAliases[%d]", i)
		ao := m.object(a, at)
		if ao == nil {
			continue
		}
		ip, ipN := ao.str("ip")
		names, _ := ao.strings("hostnames")
		addr, err := netip.ParseAddr(ip)
		if ipN == nil || err != nil {
			m.fail(a, at+".ip", "must be an address, got %q", ip)
			continue
		}
		ao.rest(nil, notCarried)
		for _, h := range names {
			if addr == netip.AddrFrom4([4]byte{127, 0, 0, 1}) && p.names[h] {
				continue // nsup names the environments of a network on 127.0.0.1 itself
			}
			if !spec.HostsName(h) {
				m.note(ao.keyNode("hostnames"), at+".hostnames", "not carried: %q is not a name /etc/hosts holds", h)
				continue
			}
			if v := byName[h]; v != nil {
				m.note(ao.keyNode("hostnames"), at+".hostnames", "translated: %s is listed twice: the last address is kept", h)
				v.Value = addr.String()
				continue
			}
			v := str(addr.String())
			byName[h] = v
			set(hosts, h, v)
		}
	}
	if len(hosts.Content) > 0 {
		set(net, "hosts", hosts)
	}
	first.net = net
}

func mappingValue(n *yaml.Node, k string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i+1]
		}
	}
	return nil
}

// namespaces of the environment of a Pod's container: the first owns
// the Pod's, the others join them; each has a cgroup namespace of its
// own.
func (p *podInfo) namespaces(e *envOut, first bool) {
	var ns []string
	join := mapping(true)
	ns = append(ns, "mnt")
	shared := func(t string, host bool) {
		switch {
		case host:
		case first:
			ns = append(ns, t)
		default:
			set(join, t, str(p.first.name))
		}
	}
	switch {
	case p.hostPID:
	case p.share:
		shared("pid", false)
	default:
		ns = append(ns, "pid")
	}
	shared("net", p.hostNetwork)
	shared("ipc", p.hostIPC)
	shared("uts", p.hostNetwork)
	// A cgroup namespace of each container's own, as Kubernetes (and
	// podman) give one on cgroup v2: /proc/self/cgroup shows "/", not
	// where the host keeps the container. nsup makes one on every
	// layout (rooted in the environment's groups, v1's too), so the
	// spec says the same on a v1 or hybrid host.
	ns = append(ns, "cgroup")
	if p.userns {
		shared("user", false)
	}
	e.namespaces = strList(ns)
	if len(join.Content) > 0 {
		e.join = join
	}
	if first && !p.hostNetwork && p.hostname != "" {
		e.hostname = str(p.hostname)
	}
}

// restartNode is the policy as a process's restart, nil for nsup's
// default (no).
func restartNode(policy string) *yaml.Node {
	if policy == "no" {
		return nil
	}
	return str(policy)
}

func graceNode(sec int64) *yaml.Node {
	if sec == 10 {
		return nil // nsup's default
	}
	return str(strconv.FormatInt(sec, 10) + "s")
}
