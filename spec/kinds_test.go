package spec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestJoinOrder: each environment after those it joins, ties in
// declaration order; asked for some, those they join come along.
func TestJoinOrder(t *testing.T) {
	s, err := ParseBytes("t.yaml", t.TempDir(), []byte(`version: 1
environments:
  web:
    rootfs: {dir: /}
    namespaces: [mnt]
    join: {net: db, ipc: cache}
    processes: [{name: main, command: [x]}]
  cache:
    rootfs: {dir: /}
    namespaces: [mnt, ipc]
    join: {net: db}
    processes: [{name: main, command: [x]}]
  db:
    rootfs: {dir: /}
    namespaces: [mnt, net]
    processes: [{name: main, command: [x]}]
  other:
    rootfs: {dir: /}
    namespaces: [mnt]
    join: {net: /proc/1/ns/net}
    processes: [{name: main, command: [x]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	names := func(envs []*Environment) []string {
		var out []string
		for _, e := range envs {
			out = append(out, e.Name)
		}
		return out
	}
	envs, unknown := s.JoinOrder()
	if got, want := names(envs), []string{"db", "cache", "web", "other"}; !slices.Equal(got, want) || len(unknown) > 0 {
		t.Errorf("JoinOrder() = %q %q, want %q", got, unknown, want)
	}
	envs, unknown = s.JoinOrder("web", "nope")
	if got, want := names(envs), []string{"db", "cache", "web"}; !slices.Equal(got, want) || !slices.Equal(unknown, []string{"nope"}) {
		t.Errorf("JoinOrder(web, nope) = %q %q, want %q and nope unknown", got, unknown, want)
	}
	// A cycle (Parse refuses them) still ends.
	got := SortByJoins([]string{"a", "b", "c"}, func(n string) []string {
		return map[string][]string{"a": {"b"}, "b": {"a"}}[n]
	})
	if !slices.Equal(got, []string{"c", "a", "b"}) {
		t.Errorf("SortByJoins with a cycle = %q", got)
	}
}

// TestKinds: the tables name every type once, in spec-v1 order, with a
// clone flag each.
func TestKinds(t *testing.T) {
	if !slices.Equal(NamespaceTypes, []string{NSMount, NSPID, NSNet, NSIPC, NSUTS, NSCgroup, NSUser, NSTime}) {
		t.Errorf("NamespaceTypes = %q", NamespaceTypes)
	}
	flags := map[uint64]bool{}
	for _, n := range Namespaces {
		if n.Flag == 0 || flags[n.Flag] || n.OCI == "" {
			t.Errorf("namespace %+v: a flag of its own and an OCI name", n)
		}
		flags[n.Flag] = true
		if !slices.Contains(JoinOrder, n.Name) {
			t.Errorf("%s is not in JoinOrder", n.Name)
		}
	}
	if !slices.Equal(MountTypes, []string{MountProc, MountSysfs, MountTmpfs, MountBind, MountDev, MountDevpts, MountMqueue, MountVolume}) {
		t.Errorf("MountTypes = %q", MountTypes)
	}
	for _, k := range MountKinds {
		if k.Namespace != "" && NamespaceFlag(k.Namespace) == 0 {
			t.Errorf("mount kind %s needs namespace %q, which is none", k.Name, k.Namespace)
		}
	}
}

// sortByJoinsQuadratic is SortByJoins as it was first written: scan the
// names from the start for the first whose joins are all placed, again
// after each pick. The reference TestSortByJoinsSame compares with.
func sortByJoinsQuadratic(names []string, joins func(name string) []string) []string {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	done := map[string]bool{}
	out := make([]string, 0, len(names))
	for len(out) < len(names) {
		progressed := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, j := range joins(n) {
				if in[j] && !done[j] && j != n {
					ready = false
				}
			}
			if ready {
				out = append(out, n)
				done[n] = true
				progressed = true
				break
			}
		}
		if !progressed {
			for _, n := range names {
				if !done[n] {
					out = append(out, n)
					done[n] = true
				}
			}
		}
	}
	return out
}

// TestSortByJoinsSame: the heap gives the order of the quadratic scan,
// for random graphs with and without cycles, self-joins, repeated joins
// and joins of names not in the list.
func TestSortByJoinsSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		n := rng.IntN(12)
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("e%d", i)
		}
		rng.Shuffle(n, func(i, j int) { names[i], names[j] = names[j], names[i] })
		joins := map[string][]string{}
		for _, name := range names {
			for range rng.IntN(4) {
				joins[name] = append(joins[name], fmt.Sprintf("e%d", rng.IntN(n+2)))
			}
		}
		of := func(name string) []string { return joins[name] }
		if got, want := SortByJoins(names, of), sortByJoinsQuadratic(names, of); !slices.Equal(got, want) {
			t.Fatalf("round %d: names %q joins %q: SortByJoins = %q, want %q", round, names, joins, got, want)
		}
	}
}
