package planner

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// forgedLink is a symlink's target as root inside a writable dir root
// (or bind) may write it: a line break, then a line that passes for one
// of nsup's.
const forgedLink = "x\nx.yaml:1:1: forged"

// TestLinkTextQuoted (helper-145's): a plan error or note that names
// where a symlink of a tree an environment may write leads quotes the
// link's text, as it quotes a spec's values: it is one line, and the
// text is told from nsup's own words. Before, it was written as it was:
// (-> x\nx.yaml:1:1: forged). The shapes: a target at a link, mounted
// where it leads (a note); a link at a target's end that leads round in
// circles, to the root itself, or through the folder of a bind (and one
// met there); a target through a link that leads below a mount; a bind
// source through a link in a writable bind; a host root's listed link.
func TestLinkTextQuoted(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/" + forgedLink, "root/tmp", "host", "proj", "elsewhere/" + forgedLink, "h/" + forgedLink, "var", "data/" + forgedLink} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "root/bin/sh"), []byte("#!"), 0o755)
	for link, to := range map[string]string{
		"root/lnk":               forgedLink,
		"root/l1":                "l2\n" + forgedLink,
		"root/l2\n" + forgedLink: "/l1",
		"root/top":               forgedLink + "/..",
		"host/lnk":               forgedLink,
		"root/via":               "data/" + forgedLink + "/../lnk",
		"root/opt":               "/tmp/" + forgedLink,
		"proj/cache":             filepath.Join(dir, "elsewhere", forgedLink),
		"h/tools":                forgedLink,
		"var/cache":              filepath.Join(dir, "data", forgedLink),
	} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	quoted := strconv.Quote(forgedLink)
	env := func(rootfs, mounts string) string {
		return "version: 1\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [mnt, pid]\n    mounts: " + mounts + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	root := "{dir: ./root}"

	// Mounted where the link leads: a note, shown on one line.
	p := planOf(t, dir, env(root, "[{type: tmpfs, target: /lnk}]"), Options{})
	var b bytes.Buffer
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	want := "/lnk is a symlink of the root (-> " + Shown(quoted) + "): mounted where it leads"
	if !strings.Contains(b.String(), want) {
		t.Errorf("no note\n  %s\nin\n%s", want, b.String())
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "x.yaml") {
			t.Errorf("a line of the link's: %q", l)
		}
	}

	for _, c := range []struct{ name, rootfs, mounts, want string }{
		{"round in circles", root, "[{type: tmpfs, target: /l1}]", "/l1 is a symlink of the root (-> " + strconv.Quote("l2\n"+forgedLink) + ") that leads round in circles"},
		{"to the root itself", root, "[{type: tmpfs, target: /top}]", "/top is a symlink of the root (-> " + strconv.Quote(forgedLink+"/..") + ") that leads to the root itself"},
		{"in a bind's folder", root, "[{type: bind, source: ./host, target: /data}, {type: tmpfs, target: /data/lnk}]", "/data/lnk is a symlink (-> " + quoted + ") in the folder mounted at /data"},
		{"through a bind's folder", root, "[{type: bind, source: ./host, target: /data}, {type: tmpfs, target: /via}]", "/via is a symlink of the root (-> " + strconv.Quote("data/"+forgedLink+"/../lnk") + ") that leads through /data/lnk, a symlink (-> " + quoted + ")"},
		{"below a mount", root, "[{type: tmpfs, target: /tmp}, {type: tmpfs, target: /opt/new}]", "/opt/new passes through the symlink /opt of the root (-> " + strconv.Quote("/tmp/"+forgedLink) + ") and leads below the tmpfs at /tmp"},
		{"a writable bind's link", root, "[{type: bind, source: ./proj, target: /src}, {type: bind, source: ./proj/cache, target: /cache}]", "passes through the symlink DIR/proj/cache (-> " + strconv.Quote(filepath.Join("DIR", "elsewhere", forgedLink)) + ")"},
		{"a host root's link", "{host: [" + dir + "/h/tools]}", "[]", "DIR/h/tools is a link to " + quoted + " on this host"},
	} {
		got := planErrors(t, dir, env(c.rootfs, c.mounts))
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: want\n  %s\nin\n  %s", c.name, c.want, got)
		}
		for _, l := range strings.Split(got, "\n") {
			if !strings.HasPrefix(l, "t.yaml:") {
				t.Errorf("%s: a line of the link's: %q", c.name, l)
			}
		}
	}

	// nsup's cache reached through a link in a writable bind.
	s, err := spec.ParseBytes("t.yaml", dir, []byte(env(root, "[{type: bind, source: ./var, target: /x}]")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, fixedOptions(Options{CacheDir: filepath.Join(dir, "var/cache/nsup"), Caller: &rootCaller}))
	want = "is reached through the symlink " + dir + "/var/cache (-> " + strconv.Quote(filepath.Join(dir, "data", forgedLink)) + ")"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "\n") != strings.Count(err.Error(), "\nt.yaml:") {
		t.Errorf("the cache's link: %v, want one line each, with\n  %s", err, want)
	}
}
