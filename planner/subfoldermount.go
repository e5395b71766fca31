package planner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// subfolderMountHides refuses a mount (a tmpfs, a bind of another
// source, a volume, any type) that hides host files in a subfolder of
// what a writable bind (a volume's too) or a writable dir root shows:
// hostdata bound writable at /data and a tmpfs at /data/sub/cache over
// the host's hostdata/sub/cache. The kernel refuses to rename the mount
// point /data/sub/cache, not /data/sub above it: before helper-75's
// review root inside moved /data/sub to /data/sub2 and made an empty
// /data/sub, the next apply mounted the tmpfs on root inside's
// /data/sub/cache, and root inside read and wrote the host's
// hostdata/sub/cache at /data/sub2/cache (renamableAbove finds such a
// folder; TestRootSubfolderMountHidesRenamed). As confinedInSubfolder
// refuses masked_paths: [/data/sub/cache].
//
// What plans: a mount directly in the writable folder (/work/node_modules
// with /work bound writable: its parent is the bind's mount point); one
// in a subfolder that is bound onto its own place (hostdata/sub at
// /data/sub); one below a mount root inside cannot rename the folders
// of (a tmpfs, a read-only bind); a bind of the very folder shown there
// (it hides nothing; read-only, subfolderBoundReadonly asks); and one
// whose host path is not there, or is an empty folder or file, when the plan is
// made: nothing to hide, and the plan states what it hides. That path
// made by apply for the mount point stays empty, so the next plan plans
// it again; files put there later (by the host) are hidden as long as
// root inside renamed nothing above them, as a masked path missing at
// plan time is not masked at all. parent is nestedMounts's.
func (ec *envCompiler) subfolderMountHides(i int, parent []int) {
	e := ec.e
	m := e.Mounts[i]
	if _, own := ec.ownPlace(i, parent); own {
		return
	}
	k, host := parent[i], ""
	switch {
	case k < 0:
		r := e.Rootfs
		if r.Dir == "" || ec.root == "" || r.Readonly || r.Overlay {
			return
		}
		k, host = len(e.Mounts), filepath.Join(ec.root, ec.ledTarget(i))
	case e.Mounts[k].Type == spec.MountBind:
		w := e.Mounts[k]
		host = filepath.Join(w.Source, strings.TrimPrefix(m.Target, w.Target))
	default:
		return // a tmpfs, an mqueue, a proc's: new at every run
	}
	w, ok := ec.renamableAbove(k, ec.ledTarget(i), parent)
	if !ok || !hidesFiles(host) {
		return
	}
	what := "the " + m.Type
	if ec.made[m.Source] == "volume" {
		what = "the volume " + filepath.Base(m.Source)
	} else if m.Type == spec.MountBind {
		what = "the bind of " + m.Source
		if m.Readonly {
			what = "the read-only bind of " + m.Source
		}
	}
	w.place = "mount it"
	subject := fmt.Sprintf("%s at %s, which hides the host's %s,", what, m.Target, host)
	ec.errorf(m.Pos, ec.mountField(i), "%s", w.refusal(subject, fmt.Sprintf("the next run would mount it in that folder of root inside's and leave the host's %s open to root inside at the new name", host)))
}

// hidesFiles says whether a mount on the host path p hides anything: p
// is there, and is not an empty folder nor an empty file (a file with
// bytes, a link, a folder with names in it, or a path that cannot be
// read: taken as hiding). An empty file is a bound file's mount point,
// as apply makes it for a target that is missing, and as a closure's
// tree lists it (mountpoints.go), so an exported bundle's rootfs has it:
// taken as hiding, the next plan of a writable dir root refused the
// spec whose apply had just made it (helper-141's stop).
func hidesFiles(p string) bool {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false
	}
	if err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return false
	}
	if err != nil || !fi.IsDir() {
		return true
	}
	// O_DIRECTORY|O_NOFOLLOW: swapped meanwhile for a fifo (which would
	// block the open) or a link, it is taken as hiding (helper-117).
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC})
	if err != nil {
		return true
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	_, err = f.Readdirnames(1)
	return !errors.Is(err, io.EOF)
}

// landed is a target as written, and where it lands when that differs.
func landed(target, at string) string {
	if at == target {
		return target
	}
	return target + " (it lands at " + at + ")"
}

// shadowedByLater refuses mount i when a later mount's target is a
// folder above its own: mounted after it, that mount covers it whole, and
// what mount i was to hide stays in sight (a tmpfs at /work/secrets
// listed before the bind of ./app at /work: the process read the host's
// app/secrets/token; helper-78's review). Mounts are made in the order
// listed, as the plan shows.
func (ec *envCompiler) shadowedByLater(i int) {
	e := ec.e
	if i < len(ec.hostBinds) {
		return // a host folder of rootfs.host: the later one shows it as it is (recursive)
	}
	m := e.Mounts[i]
	var land []string
	for j := i + 1; j < len(e.Mounts); j++ {
		if t := e.Mounts[j].Target; t != "/" && t != m.Target && within(m.Target, t) {
			ec.errorf(m.Pos, ec.mountField(i), "the %s at %s lies below %s, listed after it, which is mounted after it and covers it whole: it would not be seen, and what it is to hide would be; list it after %s", m.Type, m.Target, ec.mountField(j)+" at "+t, ec.mountField(j))
			return
		}
	}
	// Where they land, through the root's links (viewMounts): a tmpfs at
	// /lib64/t, lib64 -> usr/lib64, is covered by a later mount at
	// /usr/lib64 as one at /usr/lib64/t is. Once an error (coveredByLink's
	// for a later target that was a link) names it.
	if ec.refused(ec.mountField(i)) {
		return
	}
	for j := i + 1; j < len(e.Mounts); j++ {
		if land == nil {
			land = ec.landings()
		}
		if at, t := land[i], land[j]; t != "/" && t != at && within(at, t) {
			ec.errorf(m.Pos, ec.mountField(i), "the %s at %s lies below %s, listed after it, through the root's links, and is covered by it whole once mounted: it would not be seen, and what it is to hide would be; list it after %s", m.Type, landed(m.Target, at), ec.mountField(j)+" at "+landed(e.Mounts[j].Target, t), ec.mountField(j))
			return
		}
	}
}
