package spec

// An environment's keys but mounts, processes and security: rootfs, namespaces and joins, id maps, time offsets, variables, user.

import (
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var environmentKeys = []string{"rootfs", "namespaces", "join", "hostname", "domainname", "idmap",
	"mounts", "time", "env", "cwd", "user", "init", "security", "rlimits", "limits", "net", "depends_on", "processes"}

func (d *decoder) environment(p pair, at string) *Environment {
	e := &Environment{Name: p.name, Pos: pos(p.key)}
	st := &envState{env: e, path: at, joinOK: true}
	d.envs = append(d.envs, st)
	var h hints
	h.proc, h.procLine = procHint(mappingValue(p.val, "processes"))
	f, ok := d.fieldsOr(p.val, at, func(name string, near bool) string { return elsewhere(levelEnvironment, name, near, h) }, environmentKeys...)
	if !ok {
		return e
	}
	st.keys = f
	d.require(f, p.key, at, "rootfs", "namespaces", "processes")
	if v, ok := f.get("rootfs"); ok {
		d.rootfs(v.val, at+".rootfs", &e.Rootfs)
	}
	if v, ok := f.get("namespaces"); ok {
		e.Namespaces, st.nsOK = d.namespaces(v.val, at+".namespaces")
	}
	if v, ok := f.get("join"); ok {
		e.Join, st.joinOK = d.join(v.val, at+".join")
	}
	if v, ok := f.get("hostname"); ok {
		e.Hostname = d.checked(v.val, at+".hostname", hostnameMsg)
	}
	if v, ok := f.get("domainname"); ok {
		e.Domainname = d.checked(v.val, at+".domainname", domainnameMsg)
	}
	if v, ok := f.get("idmap"); ok {
		e.IDMap = d.idmap(v.val, at+".idmap")
	}
	if v, ok := f.get("mounts"); ok {
		e.Mounts = d.mounts(v.val, at+".mounts")
	}
	if v, ok := f.get("time"); ok {
		e.Time = d.time(v.val, at+".time")
	}
	if v, ok := f.get("env"); ok {
		e.Env, e.EnvPos = d.envVars(v.val, at+".env"), pos(v.key)
	}
	if v, ok := f.get("cwd"); ok {
		e.Cwd = d.absPath(v.val, at+".cwd", absPathMsg)
	}
	if v, ok := f.get("user"); ok {
		e.User = d.user(v.val, at+".user")
	}
	if v, ok := f.get("init"); ok {
		if b, ok := d.boolean(v.val, at+".init"); ok {
			e.Init = &Bool{Value: b, Pos: pos(v.val)}
		}
	}
	if v, ok := f.get("security"); ok {
		e.Security = d.security(v.val, at+".security")
	}
	if v, ok := f.get("rlimits"); ok {
		e.Rlimits = d.rlimits(v.val, at+".rlimits")
	}
	if v, ok := f.get("limits"); ok {
		e.Limits = d.limits(v.val, v.key, at+".limits")
	}
	if v, ok := f.get("net"); ok {
		e.Net = d.net(v.val, v.key, at+".net")
	}
	if v, ok := f.get("depends_on"); ok {
		e.DependsOn = d.dependsOn(v.val, at+".depends_on")
	}
	if v, ok := f.get("processes"); ok {
		e.ProcessesPos = pos(v.key)
		e.Process = d.processes(v.val, at+".processes", true)
	}
	return e
}

func (d *decoder) rootfs(n *yaml.Node, at string, r *Rootfs) {
	f, ok := d.fields(n, at, rootfsKeys...)
	if !ok {
		return
	}
	r.Pos = pos(n)
	var sources []string
	for _, k := range []string{"dir", "tar", "closure", "host"} {
		if _, ok := f.get(k); ok {
			sources = append(sources, k)
		}
	}
	switch len(sources) {
	case 0:
		d.errorf(n, at, "must set one of dir, tar, closure or host")
	case 1:
	default:
		d.errorf(n, at, "%s are exclusive: set exactly one of dir, tar, closure or host", strings.Join(sources, " and "))
	}
	if p, ok := f.get("dir"); ok {
		if s, ok := d.hostPath(p.val, at+".dir"); ok {
			r.Dir, r.DirPos = s, pos(p.val)
		}
	}
	if p, ok := f.get("tar"); ok {
		if s, ok := d.hostPath(p.val, at+".tar"); ok {
			// The suffix is checked on the value as written, which the
			// message quotes, not on the resolved path.
			if msg := tarMsg(p.val.Value); msg != "" {
				d.report(pos(p.val), at+".tar", msg)
			} else {
				r.Tar, r.TarPos = s, pos(p.val)
			}
		}
	}
	if p, ok := f.get("closure"); ok {
		r.ClosurePos = pos(p.val)
		r.Closure = []String{}
		list := func(n *yaml.Node, at string) {
			for i, item := range n.Content {
				if s, ok := d.hostPath(item, index(at, i)); ok {
					r.Closure = append(r.Closure, String{Value: s, Pos: pos(item)})
				}
			}
		}
		if p.val.Kind == yaml.MappingNode {
			// closure: {files: [...], packages: [...]}
			cf, ok := d.fields(p.val, at+".closure", "files", "packages")
			if ok {
				if fp, ok := cf.get("files"); ok && d.isList(fp.val, at+".closure.files") {
					list(fp.val, at+".closure.files")
				}
				if pp, ok := cf.get("packages"); ok && d.isList(pp.val, at+".closure.packages") {
					r.PackagesPos = pos(pp.val)
					r.Packages = []String{}
					for i, item := range pp.val.Content {
						if s, ok := d.str(item, index(at+".closure.packages", i)); ok {
							if !debianPackageName(s) {
								d.errorf(item, index(at+".closure.packages", i), "%s is not a Debian package name (lower-case letters, digits, + - and ., at least two, then an optional :ARCH)", quote(s))
								continue
							}
							r.Packages = append(r.Packages, String{Value: s, Pos: pos(item)})
						}
					}
				}
				fp, hasF := cf.get("files")
				pp, hasP := cf.get("packages")
				if (!hasF || len(fp.val.Content) == 0) && (!hasP || len(pp.val.Content) == 0) {
					d.errorf(p.val, at+".closure", "must name at least one file or package")
				}
			}
		} else if d.isList(p.val, at+".closure") {
			if len(p.val.Content) == 0 {
				d.errorf(p.val, at+".closure", "must have at least one entry")
			}
			list(p.val, at+".closure")
		}
	}
	if p, ok := f.get("host"); ok && d.isList(p.val, at+".host") {
		r.HostPos = pos(p.val)
		if len(p.val.Content) == 0 {
			d.errorf(p.val, at+".host", "must have at least one entry")
		}
		r.Host = []String{}
		seen := map[string]bool{}
		for i, item := range p.val.Content {
			s, ok := d.hostPath(item, index(at+".host", i))
			switch {
			case !ok:
			case s == "/":
				d.errorf(item, index(at+".host", i), "/ is the host's whole tree, /proc and /dev included: name the folders the processes need (/usr, /etc/ssl, ...)")
			case seen[s]:
				d.errorf(item, index(at+".host", i), "%s is listed twice", s)
			default:
				seen[s] = true
				r.Host = append(r.Host, String{Value: s, Pos: pos(item)})
			}
		}
	}
	r.Readonly = true
	if p, ok := f.get("dev"); ok {
		r.Dev, _ = d.boolean(p.val, at+".dev")
	}
	if p, ok := f.get("overlay"); ok {
		r.Overlay, _ = d.boolean(p.val, at+".overlay")
	}
	// An overlay exists to make the root writable, so it changes the
	// default of readonly; asking for both is a contradiction, not a
	// choice between them.
	if r.Overlay {
		r.Readonly = false
	}
	if p, ok := f.get("readonly"); ok {
		if b, ok := d.boolean(p.val, at+".readonly"); ok {
			if b && r.Overlay {
				d.errorf(p.val, at+".readonly", "cannot be true with overlay: true (the overlay makes the root writable)")
			}
			r.Readonly = b
		}
	}
}

func (d *decoder) namespaces(n *yaml.Node, at string) ([]Namespace, bool) {
	if !d.isList(n, at) {
		return nil, false
	}
	out, ok := make([]Namespace, 0, len(n.Content)), true
	for i, item := range n.Content {
		ip := index(at, i)
		s, good := d.str(item, ip)
		switch {
		case !good:
			ok = false
		case !slices.Contains(NamespaceTypes, s):
			d.report(pos(item), ip, unknownMsg("namespace type", s, NamespaceTypes))
			ok = false
		case slices.ContainsFunc(out, func(x Namespace) bool { return x.Type == s }):
			d.errorf(item, ip, "duplicate namespace %s", s)
		default:
			out = append(out, Namespace{Type: s, Pos: pos(item)})
		}
	}
	return out, ok
}

func (d *decoder) join(n *yaml.Node, at string) ([]Join, bool) {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil, false
	}
	out := []Join{}
	for _, p := range ps {
		jp := keyPath(at, p.name)
		if !slices.Contains(NamespaceTypes, p.name) {
			d.report(pos(p.key), jp, unknownMsg("namespace type", p.name, NamespaceTypes))
			ok = false
			continue
		}
		ref, good := d.str(p.val, jp)
		if !good {
			ok = false
			continue
		}
		// Whether a name refers to an environment of the file is checked
		// by validate, once every environment is known.
		switch {
		case strings.HasPrefix(ref, "/"):
			ref = path.Clean(ref)
		case !isEnvName(ref):
			d.errorf(p.val, jp, "must be an environment name or an absolute path, got %s", quote(ref))
			ok = false
			continue
		}
		out = append(out, Join{Type: p.name, Ref: ref, Pos: pos(p.val)})
	}
	return out, ok
}

// dependsOn decodes depends_on: a mapping of environment names to a
// condition (started or healthy), or compose's short form, a list of
// names (each started). Whether each names an environment of the file is
// checked by validate.
func (d *decoder) dependsOn(n *yaml.Node, at string) []Dependency {
	out := []Dependency{}
	seen := map[string]bool{}
	add := func(name string, key *yaml.Node, cond string, ip string) {
		switch {
		case !isEnvName(name):
			d.errorf(key, ip, "must be an environment name, got %s", quote(name))
		case seen[name]:
			d.errorf(key, ip, "%s is listed twice", quote(name))
		default:
			seen[name] = true
			out = append(out, Dependency{Env: name, Condition: cond, Pos: pos(key)})
		}
	}
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			if s, ok := d.str(item, index(at, i)); ok {
				add(s, item, DependsStarted, index(at, i))
			}
		}
		return out
	}
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil
	}
	for _, p := range ps {
		jp := keyPath(at, p.name)
		c, ok := d.str(p.val, jp)
		if !ok {
			continue
		}
		if c != DependsStarted && c != DependsHealthy {
			if short, ok := strings.CutPrefix(c, "service_"); ok && (short == DependsStarted || short == DependsHealthy) {
				d.errorf(p.val, jp, "unknown condition %s: compose's %s is written %s here", quote(c), c, short)
			} else {
				d.report(pos(p.val), jp, unknownMsg("condition", c, []string{DependsStarted, DependsHealthy}))
			}
			continue
		}
		add(p.name, p.key, c, jp)
	}
	return out
}

func (d *decoder) idmap(n *yaml.Node, at string) *IDMap {
	f, ok := d.fields(n, at, "uid", "gid")
	if !ok {
		return nil
	}
	m := &IDMap{Pos: pos(n)}
	if p, ok := f.get("uid"); ok {
		m.UID = d.idRanges(p.val, at+".uid")
	}
	if p, ok := f.get("gid"); ok {
		m.GID = d.idRanges(p.val, at+".gid")
	}
	return m
}

func (d *decoder) idRanges(n *yaml.Node, at string) []IDRange {
	if !d.isList(n, at) {
		return nil
	}
	switch l := len(n.Content); {
	case l == 0:
		// An empty map would leave every id unmapped; to get the default
		// one-line map, leave the key out.
		d.errorf(n, at, "must have at least one entry (leave it out for the default map)")
	case l > maxIDMapLines:
		d.errorf(n, at, "must have at most %d entries, got %d (user_namespaces(7))", maxIDMapLines, l)
	}
	out, complete := []IDRange{}, true
	for i, item := range n.Content {
		r, ok := d.idRange(item, index(at, i))
		if ok {
			out = append(out, r)
		}
		complete = complete && ok
	}
	// Overlaps are looked for only when every entry is good and there are
	// not too many: the comparison is quadratic.
	if complete && len(out) <= maxIDMapLines {
		d.checkOverlaps(out, at)
	}
	return out
}

func (d *decoder) idRange(n *yaml.Node, at string) (IDRange, bool) {
	r := IDRange{Pos: pos(n)}
	f, ok := d.fields(n, at, "inside", "outside", "count")
	if !ok {
		return r, false
	}
	d.require(f, n, at, "inside", "outside", "count")
	var v [3]uint32
	for i, k := range []string{"inside", "outside", "count"} {
		p, found := f.get(k)
		if !found {
			ok = false
			continue
		}
		x, good := d.integer(p.val, at+"."+k)
		switch {
		case !good:
		case x < 0:
			d.errorf(p.val, at+"."+k, "must not be negative, got %d", x)
			good = false
		case k == "count" && x < 1:
			d.errorf(p.val, at+"."+k, "must be at least 1, got %d", x)
			good = false
		case x > maxID:
			d.errorf(p.val, at+"."+k, "must be at most %d, got %d", uint64(maxID), x)
			good = false
		}
		v[i] = uint32(x)
		ok = ok && good
	}
	if !ok {
		return r, false
	}
	r.Inside, r.Outside, r.Count = v[0], v[1], v[2]
	if msg := idRangeMsg(r); msg != "" {
		d.report(pos(n), at, msg)
		return r, false
	}
	return r, true
}

func (d *decoder) time(n *yaml.Node, at string) *Time {
	f, ok := d.fields(n, at, "monotonic", "boottime")
	if !ok {
		return nil
	}
	t := &Time{Pos: pos(n)}
	if p, ok := f.get("monotonic"); ok {
		t.Monotonic, t.MonotonicPos = d.duration(p.val, at+".monotonic"), pos(p.val)
	}
	if p, ok := f.get("boottime"); ok {
		t.Boottime, t.BoottimePos = d.duration(p.val, at+".boottime"), pos(p.val)
	}
	return t
}

// envVars returns the variables in the order written; an empty mapping
// gives an empty, non-nil slice (a clean environment without even PATH).
func (d *decoder) envVars(n *yaml.Node, at string) []EnvVar {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil
	}
	out := []EnvVar{}
	for _, p := range ps {
		vp := keyPath(at, p.name)
		if msg := envNameMsg(p.name); msg != "" {
			d.report(pos(p.key), vp, msg)
			continue
		}
		if v, ok := d.str(p.val, vp); ok {
			out = append(out, EnvVar{Name: p.name, Value: v, Pos: pos(p.key), ValuePos: pos(p.val)})
		}
	}
	return out
}

// user accepts "UID", "UID:GID" or a bare integer UID (which YAML reads as
// an integer unless quoted).
func (d *decoder) user(n *yaml.Node, at string) *User {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		v, ok := d.integer(n, at)
		if !ok {
			return nil
		}
		if v < 0 || v > maxID {
			d.errorf(n, at, "uid must be between 0 and %d, got %d", uint64(maxID), v)
			return nil
		}
		return &User{UID: uint32(v), GID: uint32(v), Pos: pos(n)}
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str":
		d.errorf(n, at, "must be \"UID\" or \"UID:GID\" with numeric ids, got %s", describe(n))
		return nil
	}
	u, msg := parseUser(n.Value)
	if msg != "" {
		d.report(pos(n), at, msg)
		return nil
	}
	u.Pos = pos(n)
	return &u
}

// debianPackageName says whether s is a Debian package name (policy
// 5.6.1), with an optional :ARCH.
func debianPackageName(s string) bool {
	name, arch, hasArch := strings.Cut(s, ":")
	if len(name) < 2 || !(name[0] >= 'a' && name[0] <= 'z' || name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	if hasArch {
		if arch == "" {
			return false
		}
		for _, c := range []byte(arch) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
