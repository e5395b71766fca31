package planner

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsup/nsup/spec"
)

// subfolderBoundReadonly refuses a read-only bind of a host folder onto
// its own place in a subfolder of an earlier writable bind (hostdata
// bound writable at /data, hostdata/a/b read-only at /data/a/b), as
// confinedInSubfolder refuses readonly_paths: [/data/a/b]: the kernel
// refuses to rename the mount point /data/a/b, not /data/a above it.
// Before helper-68's review root inside moved /data/a to /data/a2 and
// made an empty /data/a/b; the next apply bound that empty folder (the
// source, by its host path), and root inside wrote the host's folder at
// /data/a2/b. So through a writable bind of the same folder onto its
// own place in between (hostdata/a/b writable at /data/a/b,
// hostdata/a/b/c read-only at /data/a/b/c), and in a writable dir root's
// own tree (rootfs/srv/conf read-only at /srv/conf): helper-69's review
// moved /data/a, and /srv, the same way (renamableAbove). parent is
// nestedMounts's.
func (ec *envCompiler) subfolderBoundReadonly(i int, parent []int) {
	r := ec.e.Mounts[i]
	if r.Type != spec.MountBind || !r.Readonly {
		return
	}
	k, own := ec.ownPlace(i, parent)
	if !own {
		return
	}
	w, ok := ec.renamableAbove(k, ec.ledTarget(i), parent)
	if !ok {
		return
	}
	subject := fmt.Sprintf("the read-only bind of %s at %s", r.Source, r.Target)
	if w.via == "" {
		subject += ", the folder " + w.writable + " shows there,"
	}
	ec.errorf(r.Pos, ec.mountField(i), "%s", w.refusal(subject, fmt.Sprintf("the next run would bind that folder read-only and leave %s's own writable at the new name", r.Source)))
}

// sameFolder says whether the host paths a and b are the same folder:
// the same file once their links are followed, or, where either is not
// there (a bind with create: true, made by apply), the same names below
// the same folder that is (helper-69's review: ./alias/a/new/b, alias a
// host bind of the folder bound writable, or a link to it, was compared
// as written and planned).
func sameFolder(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	da, restA, okA := thereAbove(a)
	db, restB, okB := thereAbove(b)
	return okA && okB && restA == restB && os.SameFile(da, db)
}

// thereAbove is the nearest folder of p (p itself or above it) that is
// there, and the names below it to p.
func thereAbove(p string) (os.FileInfo, string, bool) {
	for d, rest := filepath.Clean(p), ""; ; d, rest = filepath.Dir(d), filepath.Join(filepath.Base(d), rest) {
		if fi, err := os.Stat(d); err == nil {
			return fi, rest, true
		}
		if d == filepath.Dir(d) {
			return nil, "", false
		}
	}
}
