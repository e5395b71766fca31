package kube

// Import's containers: what they share with the Pod and the host, their
// published ports and volume mounts.

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ports reads the container's ports: those published on the host
// (hostPort) become the Pod's network's.
func (m *importer) ports(co *obj, p *podInfo) {
	for i, pn := range co.list("ports") {
		at := fmt.Sprintf("%s.ports[%d]", co.at, i)
		po := m.object(pn, at)
		if po == nil {
			continue
		}
		cport, cn := po.integer("containerPort")
		hport, hn := po.integer("hostPort")
		hostIP, ipN := po.str("hostIP")
		proto, protoN := po.str("protocol")
		po.rest(map[string]string{"name": "not carried: nsup's ports have no names"}, notCarried)
		if cn == nil || cport < 1 || cport > 65535 {
			m.fail(pn, at+".containerPort", "must be a port, 1 to 65535")
			continue
		}
		switch proto {
		case "", "TCP":
			proto = "tcp"
		case "UDP":
			proto = "udp"
		default:
			m.note(protoN, at+".protocol", "not carried: nsup publishes TCP and UDP ports only, not %s", proto)
			continue
		}
		if p.hostNetwork {
			p.hostPorts = true // the Pod's note says why they need nothing
			continue
		}
		if hn == nil || hport == 0 {
			m.note(pn, at, "not carried: a containerPort without hostPort publishes nothing (it documents the port)")
			continue
		}
		if hport < 1 || hport > 65535 {
			m.fail(hn, at+".hostPort", "must be a port, 1 to 65535")
			continue
		}
		host := "0.0.0.0"
		if ipN != nil {
			a, err := netip.ParseAddr(hostIP)
			if err != nil {
				m.fail(ipN, at+".hostIP", "must be an address, got %q", hostIP)
				continue
			}
			host = a.String()
			if a.Is6() {
				host = "[" + host + "]"
			}
		} else {
			m.note(hn, at+".hostPort", "translated: published on every address of the host (0.0.0.0), as Kubernetes does without hostIP; nsup's default would be 127.0.0.1")
		}
		if p.ports == nil {
			p.ports = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		}
		p.ports.Content = append(p.ports.Content, str(fmt.Sprintf("%s:%d:%d/%s", host, hport, cport, proto)))
	}
}

// volumeMounts reads the container's volume mounts into mounts, in the
// Pod's order but for a folder's, which goes before the mounts below it
// listed earlier (containerd's CRI sorts them all by depth): nsup mounts
// in the order listed, and refuses a mount that a later one covers.
func (m *importer) volumeMounts(co *obj, p *podInfo, mounts *yaml.Node) {
	first := len(mounts.Content)
	defer func() { parentsFirst(mounts.Content[first:]) }()
	for i, vn := range co.list("volumeMounts") {
		at := fmt.Sprintf("%s.volumeMounts[%d]", co.at, i)
		vo := m.object(vn, at)
		if vo == nil {
			continue
		}
		name, _ := vo.str("name")
		target, tn := vo.str("mountPath")
		ro, _ := vo.boolean("readOnly")
		sub, subN := vo.str("subPath")
		vo.rest(map[string]string{
			"subPathExpr":       "not carried: nsup expands no variable in a mount",
			"mountPropagation":  "not carried: every mount of an nsup environment is private",
			"recursiveReadOnly": "not carried: nsup's read-only mounts are made read-only as mount(2) makes them",
		}, notCarried)
		if tn == nil || !strings.HasPrefix(target, "/") {
			m.fail(vn, at+".mountPath", "must be an absolute path")
			continue
		}
		if path.Clean(target) == "/" {
			m.note(tn, at+".mountPath", "not carried: nsup mounts nothing over the root (the rootfs)")
			continue
		}
		v := p.volumes[name]
		if v == nil {
			m.fail(vn, at+".name", "no volume %q in the Pod's volumes", name)
			continue
		}
		v.used = true
		if v.kind == "" {
			m.note(vn, at, "not carried: its volume is of a kind nsup has not")
			continue
		}
		source := v.source
		if subN != nil && sub != "" {
			switch {
			case path.IsAbs(sub) || slices.Contains(strings.Split(sub, "/"), ".."):
				m.fail(subN, at+".subPath", "must be a relative path inside the volume, without .. (as Kubernetes validates it)")
				continue
			case v.kind != "bind":
				m.note(subN, at+".subPath", "not carried: nsup mounts a whole tmpfs or volume, not a folder of it: mount left out")
				continue
			}
		}
		mt := mapping(true, "type", str(v.kind), "target", str(target))
		switch v.kind {
		case "tmpfs":
			if v.size > 0 {
				set(mt, "size", sizeNode(v.size))
			}
		case "volume":
			set(mt, "source", str(source))
		case "bind":
			set(mt, "source", str(source))
			if subN != nil && sub != "" && path.Clean(sub) != "." && v.kind == "bind" {
				// subpath: the plan keeps it within the volume, as
				// the kubelet does (a symlink in a shared folder
				// would lead it anywhere on the host).
				set(mt, "subpath", str(path.Clean(sub)))
			}
			if v.create {
				set(mt, "create", boolean(true))
			}
		}
		if ro || v.readonly {
			set(mt, "readonly", boolean(true))
		}
		mounts.Content = append(mounts.Content, mt)
	}
}

// parentsFirst moves each mount before the first one listed before it
// whose target lies below its own; the others keep their order.
func parentsFirst(ms []*yaml.Node) {
	var out []*yaml.Node
	for _, mt := range ms {
		at := len(out)
		for j, o := range out {
			if strings.HasPrefix(mountTarget(o), strings.TrimSuffix(mountTarget(mt), "/")+"/") {
				at = j
				break
			}
		}
		out = slices.Insert(out, at, mt)
	}
	copy(ms, out)
}

// mountTarget is a mount's target, cleaned.
func mountTarget(mt *yaml.Node) string {
	for i := 0; i+1 < len(mt.Content); i += 2 {
		if mt.Content[i].Value == "target" {
			return path.Clean(mt.Content[i+1].Value)
		}
	}
	return ""
}
