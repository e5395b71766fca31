package spec

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// This file holds the rules of spec-v1.md: first the rules on one value
// (each returns "" for a good value, or the message), then the rules that
// relate several parts of a spec (validate).

// envName is the pattern of environment names (spec-v1: a DNS label), so
// that a name is safe in a path, a hostname and a plan line.
const envNamePattern = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

// Plain functions rather than regexps for the patterns every spec meets:
// compiling the regexps is most of the time a small spec takes to parse,
// and nsup parses on every apply.

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isEnvName reports whether s matches envNamePattern.
func isEnvName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

// ValidName reports whether s is a valid environment name: nsup's other
// commands take names, which become paths of its state directory.
func ValidName(s string) bool { return isEnvName(s) }

// splitDigits returns the leading run of ASCII digits of s and the rest.
func splitDigits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// maxID is the largest uid or gid: (uid_t)-1, 4294967295, is not an id but
// "no change" to setresuid(2) and chown(2), and the kernel refuses it in
// an id map.
const maxID = math.MaxUint32 - 1

// maxIDMapLines is the most lines a uid_map or gid_map takes since Linux
// 4.15 (user_namespaces(7)).
const maxIDMapLines = 340

// hostnameMsg follows sethostname(2): at most HOST_NAME_MAX (64) bytes.
// An empty hostname is allowed by the kernel but never meant.
func hostnameMsg(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Sprintf("must be 1 to 64 bytes long, got %d", len(s))
	}
	return ""
}

// domainnameMsg follows setdomainname(2): at most 64 bytes; empty clears it.
func domainnameMsg(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("must be at most 64 bytes long, got %d", len(s))
	}
	return ""
}

// absPathMsg: an absolute path inside the environment, one the kernel
// takes (at most PATH_MAX bytes with its NUL, names of at most NAME_MAX):
// else apply would fail with ENAMETOOLONG on valid-looking input.
func absPathMsg(s string) string {
	if !strings.HasPrefix(s, "/") {
		return fmt.Sprintf("must be an absolute path, got %s", quote(s))
	}
	if len(s) > 4095 {
		return fmt.Sprintf("must be at most 4095 bytes long (PATH_MAX), got %d", len(s))
	}
	for _, c := range strings.Split(s, "/") {
		if len(c) > 255 {
			return fmt.Sprintf("must have names of at most 255 bytes (NAME_MAX), got one of %d", len(c))
		}
	}
	return ""
}

// targetMsg also refuses "/" (after cleaning, so "/." and "//" too): the
// root of an environment is its rootfs, and a mount over it would hide
// the rootfs and every mount before it.
func targetMsg(s string) string {
	if msg := absPathMsg(s); msg != "" {
		return msg
	}
	if path.Clean(s) == "/" {
		return "must not be \"/\": the root is the rootfs"
	}
	return ""
}

func tarMsg(s string) string {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(s, ext) {
			return ""
		}
	}
	return fmt.Sprintf("must end in .tar, .tar.gz or .tgz, got %s", quote(s))
}

// envNameMsg follows execve(2): an environment entry is NAME=VALUE, so a
// name cannot hold '=' (nor be empty, nor hold a NUL ending the string).
func envNameMsg(s string) string {
	switch {
	case s == "":
		return "variable name must not be empty"
	case strings.Contains(s, "="):
		return fmt.Sprintf("variable name %s must not contain '='", quote(s))
	case strings.ContainsRune(s, 0):
		return fmt.Sprintf("variable name %s must not contain a NUL byte", quote(s))
	}
	return ""
}

// parseSize reads a tmpfs size: a number of bytes with an optional K, M, G
// or T suffix, any case, in powers of 1024 as tmpfs(5) reads them.
func parseSize(s string) (int64, string) {
	num, suffix := splitDigits(s)
	shift, ok := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(suffix)]
	if num == "" || !ok {
		return 0, fmt.Sprintf("invalid size %s: use a number of bytes with an optional K, M, G or T suffix, such as 16M", quote(s))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64>>shift {
		return 0, fmt.Sprintf("size %s is too large", quote(s))
	}
	if n == 0 {
		return 0, fmt.Sprintf("must be greater than 0, got %s", quote(s))
	}
	return n << shift, ""
}

func modeMsg(s string) string {
	octal := len(s) == 3 || len(s) == 4
	for i := 0; i < len(s); i++ {
		octal = octal && s[i] >= '0' && s[i] <= '7'
	}
	if !octal {
		return fmt.Sprintf("must be 3 or 4 octal digits such as \"755\" or \"1777\", got %s", quote(s))
	}
	return ""
}

// parseUser reads "UID" or "UID:GID". A lone UID also sets the GID to the
// same number: numeric ids have no passwd entry to take a primary group
// from, and a process running as uid 1000 with gid 0 (root's group) would
// be a surprise. Write "1000:0" to get that.
func parseUser(s string) (User, string) {
	u, rest := splitDigits(s)
	g := ""
	if r, ok := strings.CutPrefix(rest, ":"); ok {
		g, rest = splitDigits(r)
		if g == "" {
			rest = ":"
		}
	}
	if u == "" || rest != "" {
		return User{}, fmt.Sprintf("must be \"UID\" or \"UID:GID\" with numeric ids, got %s", quote(s))
	}
	m := [3]string{s, u, g}
	uid, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil || uid > maxID {
		return User{}, fmt.Sprintf("uid must be between 0 and %d, got %s", uint64(maxID), m[1])
	}
	gid := uid
	if m[2] != "" {
		gid, err = strconv.ParseUint(m[2], 10, 64)
		if err != nil || gid > maxID {
			return User{}, fmt.Sprintf("gid must be between 0 and %d, got %s", uint64(maxID), m[2])
		}
	}
	return User{UID: uint32(uid), GID: uint32(gid)}, ""
}

// idRangeMsg follows user_namespaces(7): a range must not wrap past the
// last id, on either side of the map.
func idRangeMsg(r IDRange) string {
	for _, side := range []struct {
		name  string
		first uint32
	}{{"inside", r.Inside}, {"outside", r.Outside}} {
		if uint64(side.first)+uint64(r.Count) > math.MaxUint32 {
			return fmt.Sprintf("%s + count must be at most %d, got %d", side.name, uint64(math.MaxUint32), uint64(side.first)+uint64(r.Count))
		}
	}
	return ""
}

// checkOverlaps refuses two lines of one map whose ranges share an id,
// inside or outside: the kernel refuses such a map with EINVAL
// (user_namespaces(7), "the ranges must not overlap").
func (d *decoder) checkOverlaps(rs []IDRange, at string) {
	for j := 1; j < len(rs); j++ {
		for i := 0; i < j; i++ {
			a, b := rs[i], rs[j]
			if overlap(a.Inside, a.Count, b.Inside, b.Count) {
				d.report(b.Pos, index(at, j), fmt.Sprintf("inside ids %s overlap entry %d (%s)", span(b.Inside, b.Count), i, span(a.Inside, a.Count)))
				break
			}
			if overlap(a.Outside, a.Count, b.Outside, b.Count) {
				d.report(b.Pos, index(at, j), fmt.Sprintf("outside ids %s overlap entry %d (%s)", span(b.Outside, b.Count), i, span(a.Outside, a.Count)))
				break
			}
		}
	}
}

func overlap(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

func span(first, count uint32) string {
	return fmt.Sprintf("%d-%d", first, uint64(first)+uint64(count)-1)
}

// validate applies the rules that relate parts of the spec to each other.
// It runs on whatever the decoder could make of each environment, so these
// errors come together with the decoder's.
func (d *decoder) validate() {
	var names []string
	byName := map[string]int{}
	for i, st := range d.envs {
		names = append(names, st.env.Name)
		if _, dup := byName[st.env.Name]; !dup {
			byName[st.env.Name] = i
		}
	}
	for _, st := range d.envs {
		e := st.env
		for _, j := range e.Join {
			jp := keyPath(st.path+".join", j.Type)
			if e.HasNamespace(j.Type) {
				d.report(j.Pos, jp, fmt.Sprintf("%s is both created (namespaces) and joined: choose one", j.Type))
			}
			switch {
			case j.IsPath():
			case j.Ref == e.Name:
				d.report(j.Pos, jp, "an environment cannot join its own namespaces")
			case !known(byName, j.Ref):
				var others []string // unknownMsg would not use more
				if len(names) <= maxSuggestCandidates+1 {
					others = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == e.Name })
				}
				d.report(j.Pos, jp, unknownMsg("environment", j.Ref, others))
			}
		}
		for _, dep := range e.DependsOn {
			dp := keyPath(st.path+".depends_on", dep.Env)
			switch {
			case dep.Env == e.Name:
				d.report(dep.Pos, dp, "an environment cannot depend on itself")
			case !known(byName, dep.Env):
				var others []string
				if len(names) <= maxSuggestCandidates+1 {
					others = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == e.Name })
				}
				d.report(dep.Pos, dp, unknownMsg("environment", dep.Env, others))
			}
		}
		if st.nsOK {
			d.needsNamespaces(st)
		}
		d.uniqueProcesses(st)
	}
	d.joinCycles(byName)
}

// needsNamespaces applies the rules "X needs a new (or joined) namespace".
func (d *decoder) needsNamespaces(st *envState) {
	e := st.env
	// Without a mount namespace a rootfs could only be a chroot, and a
	// chroot is not isolation (spec-v1.md, the chroot escape).
	if k, ok := st.keys.get("rootfs"); ok && st.joinOK && !e.HasNamespace(NSMount) && e.Joined(NSMount) == nil {
		d.report(pos(k.key), st.path+".rootfs", "a rootfs needs a mount namespace: add mnt to namespaces, or join one")
	}
	// A joined namespace is not good enough here: setting the hostname of
	// a joined uts namespace, a map of a joined user namespace or an
	// offset of a joined time namespace would change another environment
	// (or the host), and the kernel allows the last two only before the
	// namespace is in use.
	for _, r := range []struct {
		key, ns string
		set     bool // decoded without error: a bad value is one error, not two
	}{
		{"hostname", NSUTS, e.Hostname != nil},
		{"domainname", NSUTS, e.Domainname != nil},
		{"idmap", NSUser, e.IDMap != nil},
		{"time", NSTime, e.Time != nil},
	} {
		if k, ok := st.keys.get(r.key); ok && r.set && !e.HasNamespace(r.ns) {
			d.report(pos(k.key), st.path+"."+r.key, fmt.Sprintf("needs a new %s namespace: add %s to namespaces", r.ns, r.ns))
		}
	}
	d.netNamespace(st)
}

// netNamespace checks `net` against the environment's network namespace:
// a user-mode network, ports and the host's loopback belong to one made
// for it (an environment that joins another's by name shares that one's,
// ports included); generated resolv.conf and hosts need one of its own or
// joined (on the host's network the host's files hold).
func (d *decoder) netNamespace(st *envState) {
	e, n := st.env, st.env.Net
	if n == nil || !st.joinOK {
		return
	}
	k, _ := st.keys.get("net")
	j := e.Joined(NSNet)
	switch {
	case !e.HasNamespace(NSNet) && j == nil:
		d.report(pos(k.key), st.path+".net", "needs a network namespace: add net to namespaces (without one, the environment is on the host's network)")
	case j != nil && (n.Network != NetworkNone || n.HostLoopback != nil):
		owner := "the one it joins"
		if !j.IsPath() {
			owner = j.Ref + "'s, whose ports it shares"
		}
		d.report(n.NetworkPos, st.path+".net.network", "the network is "+owner+": set network, ports and host_loopback there")
	}
}

// uniqueProcesses checks that process names are unique in the whole tree
// of an environment: a name identifies one process in the plan and in
// messages.
func (d *decoder) uniqueProcesses(st *envState) {
	first := map[string]Pos{}
	var walk func(ps []*Process, at string)
	walk = func(ps []*Process, at string) {
		for i, p := range ps {
			pp := index(at, i)
			if p.Name != "" {
				if f, dup := first[p.Name]; dup {
					d.report(p.NamePos, pp+".name", fmt.Sprintf("duplicate process name %s (first at line %d)", quote(p.Name), f.Line))
				} else {
					first[p.Name] = p.NamePos
				}
			}
			walk(p.Children, pp+".children")
		}
	}
	walk(st.env.Process, st.path+".processes")
}

func known(byName map[string]int, name string) bool {
	_, ok := byName[name]
	return ok
}

// joinCycles reports environments joining each other's namespaces in a
// circle: none of them could be created first. It finds the strongly
// connected components of the join graph (Tarjan's algorithm, linear in
// its size, where listing every cycle could be exponential) and reports
// one cycle per component: through its first environment in file order,
// as short as possible, at that environment's join leading into it.
// Breaking it and running again shows any other.
func (d *decoder) joinCycles(byName map[string]int) {
	n := len(d.envs)
	// edges[u] lists, in join order, the environments u joins, with the
	// index of the join; a path, an unknown name or u itself (reported
	// above) is not an edge.
	// A depends_on entry is an edge too: its join is len(Join) + its
	// index in DependsOn.
	type edge struct{ to, join int }
	edges := make([][]edge, n)
	for u, st := range d.envs {
		for ji, j := range st.env.Join {
			if v, ok := byName[j.Ref]; ok && !j.IsPath() && v != u {
				edges[u] = append(edges[u], edge{v, ji})
			}
		}
		for di, dep := range st.env.DependsOn {
			if v, ok := byName[dep.Env]; ok && v != u {
				edges[u] = append(edges[u], edge{v, len(st.env.Join) + di})
			}
		}
	}

	// Tarjan's algorithm. The recursion is as deep as the longest chain of
	// joins, at most the number of environments.
	const unvisited = -1
	order, low := make([]int, n), make([]int, n)
	comp := make([]int, n) // component of each environment, or unvisited
	onStack := make([]bool, n)
	for i := range order {
		order[i], comp[i] = unvisited, unvisited
	}
	var stack []int
	next, ncomp := 0, 0
	var sizes []int
	var connect func(u int)
	connect = func(u int) {
		order[u], low[u] = next, next
		next++
		stack = append(stack, u)
		onStack[u] = true
		for _, e := range edges[u] {
			switch {
			case order[e.to] == unvisited:
				connect(e.to)
				low[u] = min(low[u], low[e.to])
			case onStack[e.to]:
				low[u] = min(low[u], order[e.to])
			}
		}
		if low[u] == order[u] {
			size := 0
			for {
				v := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[v] = false
				comp[v] = ncomp
				size++
				if v == u {
					break
				}
			}
			sizes = append(sizes, size)
			ncomp++
		}
	}
	for u := range n {
		if order[u] == unvisited {
			connect(u)
		}
	}

	reported := make([]bool, ncomp)
	for u := range n { // file order: u is the first of its component
		c := comp[u]
		if sizes[c] < 2 || reported[c] {
			continue
		}
		reported[c] = true
		// Breadth-first search from u inside the component, back to u:
		// the shortest cycle through u.
		prev := map[int]edge{} // how each environment was reached
		queue := []int{u}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, e := range edges[v] {
				if comp[e.to] != c {
					continue
				}
				if _, seen := prev[e.to]; seen {
					continue
				}
				prev[e.to] = edge{v, e.join}
				queue = append(queue, e.to)
			}
			if _, back := prev[u]; back {
				break
			}
		}
		// Walk back from u to u, then print in join order.
		cycle := []int{u}
		first := prev[u]
		for v := first.to; v != u; v = prev[v].to {
			cycle = append(cycle, v)
			first = prev[v]
		}
		cycle = append(cycle, u)
		slices.Reverse(cycle)
		st := d.envs[u]
		// Each step of the cycle is a join if one joins the next, else a
		// depends_on.
		joins, deps := 0, 0
		for i := 0; i+1 < len(cycle); i++ {
			if slices.ContainsFunc(edges[cycle[i]], func(e edge) bool { return e.to == cycle[i+1] && e.join < len(d.envs[cycle[i]].env.Join) }) {
				joins++
			} else {
				deps++
			}
		}
		what := "join cycle: "
		switch {
		case joins == 0:
			what = "depends_on cycle: "
		case deps > 0:
			what = "cycle of joins and depends_on: "
		}
		if first.join >= len(st.env.Join) {
			dep := st.env.DependsOn[first.join-len(st.env.Join)]
			d.report(dep.Pos, keyPath(st.path+".depends_on", dep.Env), what+d.cycleNames(cycle))
			continue
		}
		j := st.env.Join[first.join]
		d.report(j.Pos, keyPath(st.path+".join", j.Type), what+d.cycleNames(cycle))
	}
}

// maxCycleNames bounds the names printed for one cycle.
const maxCycleNames = 12

// cycleNames prints a cycle as a -> b -> a, eliding the middle of a long one.
func (d *decoder) cycleNames(cycle []int) string {
	var names []string
	for i, v := range cycle {
		if len(cycle) > maxCycleNames && i == maxCycleNames/2 {
			names = append(names, fmt.Sprintf("… (%d more)", len(cycle)-maxCycleNames))
		}
		if len(cycle) > maxCycleNames && i >= maxCycleNames/2 && i < len(cycle)-maxCycleNames/2 {
			continue
		}
		names = append(names, d.envs[v].env.Name)
	}
	return strings.Join(names, " -> ")
}
