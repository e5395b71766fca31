package spec

import (
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
	if !slices.Equal(MountTypes, []string{MountProc, MountSysfs, MountTmpfs, MountBind, MountDev, MountDevpts, MountMqueue}) {
		t.Errorf("MountTypes = %q", MountTypes)
	}
	for _, k := range MountKinds {
		if k.Namespace != "" && NamespaceFlag(k.Namespace) == 0 {
			t.Errorf("mount kind %s needs namespace %q, which is none", k.Name, k.Namespace)
		}
	}
}
