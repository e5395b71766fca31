package planner

import (
	"fmt"
	"testing"
)

// TestWalkPath: the one walk of a path in a known tree ends where the
// kernel's lookup would, and says why: at the end (every link followed,
// ".." never above the root), at a component missing (a dangling link's
// target), below a non-folder, after more than 40 links, at a link it
// was told not to follow, or where it was told to stop; byName takes a
// missing part by name and goes on. lead and tail are the longest
// leading part that resolved whole and what follows it (landing).
func TestWalkPath(t *testing.T) {
	tree := mapTree(map[string]File{
		"/usr":           {Type: "dir"},
		"/usr/lib64":     {Type: "dir"},
		"/usr/lib64/f":   {Type: "file"},
		"/lib64":         {Type: "symlink", Link: "usr/lib64"},
		"/abs":           {Type: "symlink", Link: "/usr/lib64/"},
		"/up":            {Type: "symlink", Link: "../../usr"},
		"/usr/lib64/dot": {Type: "symlink", Link: "."},
		"/dangle":        {Type: "symlink", Link: "nowhere/x"},
		"/l1":            {Type: "symlink", Link: "l2"},
		"/l2":            {Type: "symlink", Link: "/l1"},
		"/fdot":          {Type: "symlink", Link: "usr/lib64/f/."},
		"/fslash":        {Type: "symlink", Link: "usr/lib64/f/"},
		"/tof":           {Type: "symlink", Link: "usr/lib64/f"},
	})
	stopAtUsr := func(cur string) bool { return cur == "/usr" }
	for _, c := range []struct {
		p          string
		how        walkHow
		end        walkEnd
		cur, at    string
		lead, tail string
		rest       string
	}{
		{p: "/lib64/f", end: walkDone, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/usr/lib64/f"},
		{p: "/abs/dot/dot/f", end: walkDone, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/usr/lib64/f"},
		{p: "/up/lib64/../lib64", end: walkDone, cur: "/usr/lib64", at: "/usr/lib64", lead: "/usr/lib64"},
		{p: "/lib64/new/x", end: walkMissing, cur: "/usr/lib64", at: "/usr/lib64/new", lead: "/usr/lib64", tail: "new/x", rest: "x"},
		{p: "/lib64/f/x", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/usr/lib64/f", tail: "x", rest: "x/"},
		{p: "/dangle/y", end: walkMissing, cur: "/", at: "/nowhere", lead: "/", tail: "dangle/y", rest: "x/y"},
		{p: "/l1/z", end: walkLoop, at: "/l1", lead: "/", tail: "l1/z", cur: "/", rest: "z"},
		{p: "/lib64/f", how: walkHow{link: never}, end: walkLink, cur: "/", at: "/lib64", lead: "/", tail: "lib64/f", rest: "f"},
		{p: "/dangle/y", how: walkHow{byName: true}, end: walkDone, cur: "/nowhere/x/y", at: "/nowhere/x/y", lead: "/nowhere/x/y"},
		{p: "/usr/lib64/f/.", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/usr/lib64/f", tail: ".", rest: "./"},
		{p: "/usr/lib64/f/", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/usr/lib64", tail: "f/"},
		{p: "/fdot", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/", tail: "fdot", rest: "./"},
		{p: "/fslash", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/", tail: "fslash"},
		{p: "/tof/", end: walkNotDir, cur: "/usr/lib64/f", at: "/usr/lib64/f", lead: "/", tail: "tof/"},
		{p: "/tof", end: walkDone, cur: "/usr/lib64/f", at: "/usr/lib64/f"},
		{p: "/lib64/", end: walkDone, cur: "/usr/lib64", at: "/usr/lib64"},
		{p: "/lib64/f", how: walkHow{stop: stopAtUsr}, end: walkStopped, cur: "/usr", at: "/usr", lead: "/", tail: "lib64/f", rest: "lib64/f"},
	} {
		w := walkPath(tree, c.p, c.how)
		if w.end != c.end || w.cur != c.cur || w.at != c.at || w.rest != c.rest || c.end != walkDone && (w.lead != c.lead || w.tail != c.tail) {
			t.Errorf("%s: end %d cur %q at %q rest %q lead %q tail %q; want end %d cur %q at %q rest %q lead %q tail %q", c.p, w.end, w.cur, w.at, w.rest, w.lead, w.tail, c.end, c.cur, c.at, c.rest, c.lead, c.tail)
		}
	}
	// 40 links in one lookup are followed, the 41st is ELOOP (the
	// kernel's MAXSYMLINKS: nd->total_link_count++ >= 40).
	chain := map[string]File{"/f": {Type: "file"}}
	for i := 1; i <= 41; i++ {
		chain[fmt.Sprintf("/c%d", i)] = File{Type: "symlink", Link: fmt.Sprintf("c%d", i-1)}
	}
	chain["/c0"] = File{Type: "symlink", Link: "f"}
	if w := walkPath(mapTree(chain), "/c39", walkHow{}); w.end != walkDone || w.cur != "/f" {
		t.Errorf("40 links: end %d at %s", w.end, w.cur)
	}
	if w := walkPath(mapTree(chain), "/c40", walkHow{}); w.end != walkLoop {
		t.Errorf("41 links: end %d at %s, want a loop", w.end, w.cur)
	}
	for p, want := range map[string]string{"/lib64/new/x": "/usr/lib64/new/x", "/dangle/y": "/dangle/y", "/lib64/f": "/usr/lib64/f", "/l1/z": "/l1/z"} {
		if got := landing(tree, p); got != want {
			t.Errorf("landing(%s) = %s, want %s", p, got, want)
		}
	}
}
