package store

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// agree unpacks c's archive and lists it with planner.TarFiles (nsup
// lock's listing): both refuse it, with the same reason, or both accept
// it and the tree holds exactly the listed names, member by member, each
// with the listed type, mode, link target, size and bytes. It returns
// the refusal, if any.
func agree(t *testing.T, c *unpackCase) error {
	t.Helper()
	files, _, lerr := planner.TarFiles(c.archive)
	_, uerr := c.unpack(t)
	if lerr != nil || uerr != nil {
		if lerr == nil || uerr == nil || lerr.Error() != uerr.Error() {
			t.Fatalf("the listing and the unpacker disagree:\nTarFiles: %v\nunpacked: %v", lerr, uerr)
		}
		return uerr
	}
	listed := map[string]planner.File{}
	for _, f := range files {
		listed[f.Path] = f
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(c.tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.tree {
			return err
		}
		rel, _ := filepath.Rel(c.tree, p)
		name := "/" + rel
		seen[name] = true
		f, ok := listed[name]
		if !ok {
			t.Errorf("%s is unpacked, not listed", name)
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		got := planner.File{Path: name, Mode: uint32(fi.Mode().Perm())}
		if fi.Mode()&fs.ModeSticky != 0 {
			got.Mode |= 0o1000
		}
		switch {
		case fi.IsDir():
			got.Type = "dir"
		case fi.Mode()&fs.ModeSymlink != 0:
			got.Type = "symlink"
			got.Link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			got.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			got.Size, got.Digest = int64(len(b)), "sha256:"+hex.EncodeToString(sum[:])
		default:
			got.Type = fi.Mode().Type().String()
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Errorf("%s: %v unpacked: setuid or setgid kept", name, fi.Mode())
		}
		if got != f {
			t.Errorf("%s:\nlisted   %+v\nunpacked %+v", name, f, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f.Path] {
			t.Errorf("%s is listed, not unpacked", f.Path)
		}
	}
	return nil
}

// TestTarListingAgrees: planner.TarFiles (what nsup lock and the plan
// say) and the unpacker agree member by member, both taking their members
// from planner.WalkTar: on a normal archive, on a hostile one that is
// accepted (absolute names, setuid bits, devices, symlinks pointing out,
// duplicates of every kind, hard links to replaced files), and on every
// kind of archive that is refused, which both refuse for the same reason.
func TestTarListingAgrees(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		c := newUnpackCase(t, makeTar(t, true,
			member{name: "./", typ: tar.TypeDir, mode: 0o755},
			member{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
			member{name: "./bin/busybox", body: "#!bb\n", mode: 0o755},
			member{name: "./bin/sh", typ: tar.TypeSymlink, link: "busybox"},
			member{name: "./bin/ls", typ: tar.TypeLink, link: "./bin/busybox"},
			member{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
			member{name: "./etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
			member{name: "./etc/shadow", body: "root:*::0:::::\n", mode: 0o640},
			member{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
			member{name: "./usr/lib/libc.so", body: strings.Repeat("elf", 1000), mode: 0o755},
			member{name: "./lib", typ: tar.TypeSymlink, link: "usr/lib"}))
		if err := agree(t, c); err != nil {
			t.Fatal(err)
		}
		removeTree(c.tree)
	})
	t.Run("hostile-accepted", func(t *testing.T) {
		c := newUnpackCase(t, nil)
		os.WriteFile(c.archive, makeTar(t, false,
			member{name: "./", typ: tar.TypeDir, mode: 0o700},
			member{name: filepath.Join(c.outside, "planted"), body: "absolute\n"},
			member{name: "//etc//./hostname", body: "box\n"},
			member{name: "bin/su", body: "x", mode: 0o4755, uid: 1234, gid: 2345},
			member{name: "bin/wall", body: "x", mode: 0o2755},
			member{name: "shared/", typ: tar.TypeDir, mode: 0o2775},
			member{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
			member{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660},
			member{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
			member{name: "out", typ: tar.TypeSymlink, link: c.outside},
			member{name: "up", typ: tar.TypeSymlink, link: "../../../../.."},
			member{name: "mtab", typ: tar.TypeSymlink, link: "/proc/self/mounts"},
			member{name: "long", typ: tar.TypeSymlink, link: strings.Repeat("l/", 2047) + "l"},
			// Duplicates: file, then file; symlink, then file; file, then
			// symlink; file, then folder; a folder twice.
			member{name: "f", body: "one"},
			member{name: "f", body: "two"},
			member{name: "s", typ: tar.TypeSymlink, link: "/etc"},
			member{name: "s", body: "a file now"},
			member{name: "g", body: "a file"},
			member{name: "g", typ: tar.TypeSymlink, link: "f"},
			member{name: "h", body: "a file"},
			member{name: "h/", typ: tar.TypeDir, mode: 0o750},
			member{name: "h/in", body: "below"},
			member{name: "d/", typ: tar.TypeDir, mode: 0o700},
			member{name: "d/x", body: "x"},
			member{name: "d/", typ: tar.TypeDir, mode: 0o755},
			// Hard links: to a file later replaced (the link keeps the
			// first bytes), to a link, to itself.
			member{name: "orig", body: "first", mode: 0o600},
			member{name: "l1", typ: tar.TypeLink, link: "orig"},
			member{name: "orig", body: "second"},
			member{name: "l2", typ: tar.TypeLink, link: "/l1"},
			member{name: "l2", typ: tar.TypeLink, link: "./l2"},
			// A folder listed after what it holds, read-only, and deep
			// implicit folders.
			member{name: "ro/inside", body: "in"},
			member{name: "ro/", typ: tar.TypeDir, mode: 0o555},
			member{name: "a/b/c/d/e", body: "deep"},
			member{name: "a/" + strings.Repeat("n", 255), body: "a name of NAME_MAX bytes"},
			member{name: "./", typ: tar.TypeDir, mode: 0o755}), 0o644)
		c.hostBefore = snapshot(t, c.dir, c.tree)
		if err := agree(t, c); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(c.tree, "l1")); string(b) != "first" {
			t.Errorf("l1: %q", b)
		}
		removeTree(c.tree)
	})
	for _, tc := range []struct {
		name, why string
		ms        []member
	}{
		{"dotdot", `a ".." in a member name`, []member{{name: "a/../../x", body: "x"}}},
		{"through-symlink", "passes through a symlink", []member{{name: "evil", typ: tar.TypeSymlink, link: "/etc"}, {name: "evil/passwd", body: "x"}}},
		{"through-symlink-deeper", "passes through a symlink", []member{{name: "usr/lib", typ: tar.TypeSymlink, link: "/"}, {name: "usr/lib/sub/", typ: tar.TypeDir}}},
		{"below-file", "not a folder", []member{{name: "f", body: "x"}, {name: "f/x", body: "x"}}},
		{"file-replaces-folder", "replaces a folder", []member{{name: "d/", typ: tar.TypeDir}, {name: "d", body: "x"}}},
		{"symlink-replaces-folder", "replaces a folder", []member{{name: "d/x", body: "x"}, {name: "d", typ: tar.TypeSymlink, link: "/"}}},
		{"hardlink-replaces-folder", "replaces a folder", []member{{name: "f", body: "x"}, {name: "d/", typ: tar.TypeDir}, {name: "d", typ: tar.TypeLink, link: "f"}}},
		{"hardlink-missing", "not an earlier file", []member{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}},
		{"hardlink-later", "not an earlier file", []member{{name: "h", typ: tar.TypeLink, link: "f"}, {name: "f", body: "x"}}},
		{"hardlink-folder", "not an earlier file", []member{{name: "d/", typ: tar.TypeDir}, {name: "h", typ: tar.TypeLink, link: "d"}}},
		{"hardlink-root", "not an earlier file", []member{{name: "h", typ: tar.TypeLink, link: "./"}}},
		{"hardlink-symlink", "not an earlier file", []member{{name: "s", typ: tar.TypeSymlink, link: "/etc/passwd"}, {name: "h", typ: tar.TypeLink, link: "s"}}},
		{"hardlink-through-symlink", "passes through a symlink", []member{{name: "s", typ: tar.TypeSymlink, link: "/etc"}, {name: "h", typ: tar.TypeLink, link: "s/passwd"}}},
		{"hardlink-dotdot", `a ".." in a member name`, []member{{name: "h", typ: tar.TypeLink, link: "../outside/secret"}}},
		{"enormous", "more than nsup unpacks", []member{{name: "huge", size: 1 << 40}}},
		{"long-name", "a name of", []member{{name: strings.Repeat("n/", 2100) + "x", body: "x"}}},
		{"long-component", "a component of 256 bytes", []member{{name: "d/" + strings.Repeat("c", 256), body: "x"}}},
		{"symlink-empty", "a symlink to a target of 0 bytes", []member{{name: "s", typ: tar.TypeSymlink, link: ""}}},
		{"symlink-long", "a symlink to a target of 4096 bytes", []member{{name: "s", typ: tar.TypeSymlink, link: strings.Repeat("l", 4096)}}},
		{"unsupported", "unsupported type", []member{{name: "c", typ: tar.TypeCont, body: ""}}},
	} {
		t.Run("refused-"+tc.name, func(t *testing.T) {
			c := newUnpackCase(t, makeTar(t, false, tc.ms...))
			wantRefused(t, agree(t, c), tc.why)
		})
	}
	t.Run("refused-xz", func(t *testing.T) {
		c := newUnpackCase(t, []byte("\xfd7zXZ\x00rest"))
		wantRefused(t, agree(t, c), "compressed with xz")
	})
}

// TestTarListingAgreesRandom: archives made at random from a few names,
// every type and mode, duplicates and links among them: the listing and
// the unpacker agree on each, accepted or refused.
func TestTarListingAgreesRandom(t *testing.T) {
	names := []string{"a", "b", "a/b", "a/c", "b/a", "/a", "./b/c", "a/b/c", "c", "c/", "./", "a//b/", "d/e/f"}
	links := []string{"a", "b", "a/b", "/a/c", "c", "../a", "/etc", "", "d/e/f", "b/a"}
	modes := []int64{0o644, 0o4755, 0o2755, 0o1777, 0o555, 0o700, 0o600}
	types := []byte{tar.TypeReg, tar.TypeReg, tar.TypeDir, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeLink, tar.TypeChar, tar.TypeFifo}
	rng := rand.New(rand.NewSource(1))
	accepted, refused := 0, 0
	for i := 0; i < 300; i++ {
		var ms []member
		for n := 1 + rng.Intn(8); n > 0; n-- {
			m := member{name: names[rng.Intn(len(names))], typ: types[rng.Intn(len(types))], mode: modes[rng.Intn(len(modes))]}
			if m.typ != tar.TypeDir {
				// archive/tar writes no other member with a trailing "/".
				m.name = strings.TrimSuffix(m.name, "/")
			}
			switch m.typ {
			case tar.TypeReg:
				m.body = fmt.Sprintf("body %d", rng.Intn(3))
			case tar.TypeSymlink, tar.TypeLink:
				m.link = links[rng.Intn(len(links))]
			}
			ms = append(ms, m)
		}
		ok := t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := newUnpackCase(t, makeTar(t, rng.Intn(2) == 0, ms...))
			if err := agree(t, c); err != nil {
				refused++
			} else {
				accepted++
			}
			removeTree(c.tree)
		})
		if !ok {
			t.Fatalf("archive %d: %+v", i, ms)
		}
	}
	t.Logf("%d archives accepted, %d refused, all alike", accepted, refused)
	if accepted < 30 || refused < 30 {
		t.Errorf("%d accepted, %d refused: the archives do not cover both", accepted, refused)
	}
}
