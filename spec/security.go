package spec

import (
	"fmt"

	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// security decodes an environment's `security` block.
func (d *decoder) security(n *yaml.Node, at string) *Security {
	f, ok := d.fields(n, at, securityKeys...)
	if !ok {
		return nil
	}
	s := &Security{Pos: pos(n)}
	if p, ok := f.get("capabilities"); ok {
		d.capabilities(p.val, at+".capabilities", s)
	}
	if p, ok := f.get("seccomp"); ok {
		if v, ok := d.str(p.val, at+".seccomp"); ok {
			switch {
			case v == SeccompDefault || v == SeccompUnconfined:
				s.Seccomp = &String{Value: v, Pos: pos(p.val)}
			case v == "":
				d.errorf(p.val, at+".seccomp", "must be default, unconfined or the path of a profile, got \"\"")
			default:
				// A path: relative to the spec's folder, like every host
				// path of a spec.
				if hp, ok := d.hostPath(p.val, at+".seccomp"); ok {
					s.Seccomp = &String{Value: hp, Pos: pos(p.val)}
				}
			}
		}
	}
	if p, ok := f.get("masked_paths"); ok {
		s.MaskedPaths = d.pathList(p.val, at+".masked_paths")
	}
	if p, ok := f.get("readonly_paths"); ok {
		s.ReadonlyPaths = d.pathList(p.val, at+".readonly_paths")
	}
	if p, ok := f.get("no_new_privileges"); ok {
		if b, ok := d.boolean(p.val, at+".no_new_privileges"); ok {
			s.NoNewPrivileges = &Bool{Value: b, Pos: pos(p.val)}
		}
	}
	return s
}

// capabilities decodes `capabilities: {add: [...], drop: [...]}`.
func (d *decoder) capabilities(n *yaml.Node, at string, s *Security) {
	f, ok := d.fields(n, at, "add", "drop")
	if !ok {
		return
	}
	if p, ok := f.get("add"); ok {
		s.CapAdd = d.capList(p.val, at+".add")
	}
	if p, ok := f.get("drop"); ok {
		s.CapDrop = d.capList(p.val, at+".drop")
	}
	// A name in both lists says two things at once: which one was meant
	// is not for nsup to guess.
	for _, a := range s.CapAdd {
		for _, x := range s.CapDrop {
			if a.Value == x.Value && a.Value != "ALL" {
				d.errorf(n, at, "%s is both added and dropped", a.Value)
			}
		}
	}
}

// capList decodes a list of capability names: "NET_ADMIN", "CAP_NET_ADMIN"
// and "cap_net_admin" are one name, kept as "CAP_NET_ADMIN"; "ALL" is
// every capability.
func (d *decoder) capList(n *yaml.Node, at string) []String {
	if !d.isList(n, at) {
		return nil
	}
	out := []String{}
	for i, item := range n.Content {
		ip := index(at, i)
		v, ok := d.str(item, ip)
		if !ok {
			continue
		}
		name := CapabilityName(v)
		switch {
		case name == "" && CapabilityName(strings.ToUpper(v)) != "":
			d.errorf(item, ip, "capability names are written in capitals, as capabilities(7) writes them: %s", strings.ToUpper(v))
		case name == "":
			d.report(pos(item), ip, capabilityMsg(v))
		case slices.ContainsFunc(out, func(s String) bool { return s.Value == name }):
			d.errorf(item, ip, "duplicate capability %s", name)
		default:
			out = append(out, String{Value: name, Pos: pos(item)})
		}
	}
	return out
}

// capabilityMsg is the message for an unknown capability name, with the
// nearest known one (without its CAP_ prefix if v has none).
func capabilityMsg(v string) string {
	var lower []string
	for _, c := range Capabilities {
		if strings.HasPrefix(v, "CAP_") {
			lower = append(lower, strings.ToLower(c))
		} else {
			lower = append(lower, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
		}
	}
	if s := suggest(v, lower); s != "" {
		return fmt.Sprintf("unknown capability %s (did you mean %q?)", quote(v), strings.ToUpper(s))
	}
	return fmt.Sprintf("unknown capability %s (capabilities(7) lists them)", quote(v))
}

// CapabilityName normalises a capability name, written as capabilities(7)
// writes it, with or without CAP_: "CAP_NET_ADMIN", "ALL", or "" for a
// name capabilities(7) does not have.
func CapabilityName(u string) string {
	if u == "ALL" {
		return u
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	if slices.Contains(Capabilities, u) {
		return u
	}
	return ""
}

// pathList decodes `masked_paths` or `readonly_paths`: the word default,
// or a list of absolute paths inside the environment (empty: none).
func (d *decoder) pathList(n *yaml.Node, at string) *Paths {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if n.Value != SeccompDefault {
			d.errorf(n, at, "must be default or a list of absolute paths, got %s", quote(n.Value))
		}
		return nil
	}
	if !d.isList(n, at) {
		return nil
	}
	out := &Paths{Pos: pos(n), Paths: []String{}}
	for i, item := range n.Content {
		ip := index(at, i)
		p := d.absPath(item, ip, targetMsg)
		if p == nil {
			continue
		}
		if slices.ContainsFunc(out.Paths, func(s String) bool { return s.Value == p.Value }) {
			d.errorf(item, ip, "duplicate path %s", p.Value)
			continue
		}
		out.Paths = append(out.Paths, *p)
	}
	return out
}

// rlimits decodes `rlimits: {nofile: 1024, nproc: "256:512", core: 0,
// stack: 8M, cpu: unlimited}`: each a soft limit, or "SOFT:HARD"; a
// lone value is both (as docker run --ulimit takes it). Sizes in bytes
// take a K, M, G or T suffix.
func (d *decoder) rlimits(n *yaml.Node, at string) []Rlimit {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil
	}
	out := []Rlimit{}
	for _, p := range ps {
		rp := keyPath(at, p.name)
		if !slices.Contains(RlimitNames, p.name) {
			d.report(pos(p.key), rp, unknownMsg("resource", p.name, RlimitNames))
			continue
		}
		var text string
		switch {
		case p.val.Kind == yaml.ScalarNode && p.val.ShortTag() == "!!int":
			v, ok := d.integer(p.val, rp)
			if !ok {
				continue
			}
			text = strconv.FormatInt(v, 10)
		default:
			s, ok := d.str(p.val, rp)
			if !ok {
				continue
			}
			text = s
		}
		soft, hard, msg := parseRlimit(p.name, text)
		if msg != "" {
			d.report(pos(p.val), rp, msg)
			continue
		}
		out = append(out, Rlimit{Name: p.name, Soft: soft, Hard: hard, Pos: pos(p.val)})
	}
	return out
}

// parseRlimit reads "SOFT" or "SOFT:HARD" for resource name.
func parseRlimit(name, s string) (soft, hard uint64, msg string) {
	softText, hardText, both := strings.Cut(s, ":")
	if !both {
		hardText = softText
	}
	if strings.Contains(hardText, ":") {
		return 0, 0, fmt.Sprintf("invalid limit %s: use SOFT or SOFT:HARD", quote(s))
	}
	var vals [2]uint64
	for i, t := range []string{softText, hardText} {
		v, m := rlimitValue(name, strings.TrimSpace(t))
		if m != "" {
			return 0, 0, m
		}
		vals[i] = v
	}
	if vals[0] > vals[1] {
		return 0, 0, fmt.Sprintf("soft limit %s is above the hard limit %s", strings.TrimSpace(softText), strings.TrimSpace(hardText))
	}
	return vals[0], vals[1], ""
}

func rlimitValue(name, t string) (uint64, string) {
	if t == "unlimited" {
		return RlimitInfinity, ""
	}
	if v, err := strconv.ParseUint(t, 10, 64); err == nil && v != RlimitInfinity {
		return v, ""
	}
	if slices.Contains(rlimitBytes, name) {
		if v, m := parseSize(t); m == "" {
			return uint64(v), ""
		}
	}
	unit := "a number"
	if slices.Contains(rlimitBytes, name) {
		unit = "a number of bytes (16M, 1G)"
	}
	return 0, fmt.Sprintf("invalid limit %s: use %s, unlimited, or SOFT:HARD", quote(t), unit)
}

// EffectiveRlimits returns the limits a process runs with: the environment's,
// with the process's own in their place.
func EffectiveRlimits(env, proc []Rlimit) []Rlimit {
	out := slices.Clone(env)
	for _, r := range proc {
		if i := slices.IndexFunc(out, func(x Rlimit) bool { return x.Name == r.Name }); i >= 0 {
			out[i] = r
		} else {
			out = append(out, r)
		}
	}
	return out
}
