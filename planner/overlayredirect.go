package planner

import (
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// redirected is the path in an overlay's lower folders that the path f
// of its merged folder shows, given its upper folder's host path upper
// (or "": f): f, with each of its folders (or the file) that the upper
// folder redirects taken from where the redirect says. With
// redirect_dir=on a folder renamed through the merged folder is a new
// folder of the upper one that shows its lower folder's files under the
// new name, and names that folder in the xattr trusted.overlay.redirect
// (user.overlay.redirect with userxattr): from the layers' root if
// absolute, else a name in the same folder (Documentation/filesystems/
// overlayfs.rst, "Renaming directories"); metacopy=on does the same for
// a file. Before helper-70's change the lower folders were looked at
// by the merged folder's path: with the spec read through a renamed
// folder (merged/new, lower/old), a writable bind of lower/old was
// planned, and a write of lower/old/proj/nsup.yaml changed the spec (by
// hand; TestRootOverlayRedirect).
func redirected(upper, f string) string {
	if upper == "" {
		return f
	}
	out, cur := "/", upper
	for _, c := range strings.Split(strings.Trim(f, "/"), "/") {
		if c == "" {
			continue
		}
		cur, out = filepath.Join(cur, c), path.Join(out, c)
		if r := ovlRedirect(cur); strings.HasPrefix(r, "/") {
			out = path.Clean(r)
		} else if r != "" {
			out = path.Join(path.Dir(out), r)
		}
	}
	return out
}

// ovlRedirect is the overlay redirect xattr of the host path p (not
// followed if a link), or "".
func ovlRedirect(p string) string {
	buf := make([]byte, 4096)
	for _, name := range []string{"trusted.overlay.redirect", "user.overlay.redirect"} {
		if n, err := unix.Lgetxattr(p, name, buf); err == nil && n > 0 {
			return string(buf[:n])
		}
	}
	return ""
}
