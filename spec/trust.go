package spec

import (
	"fmt"
	"os"
	"syscall"
)

// Untrusted says why a file found rather than named (an nsup.yaml found by
// walking up from the current folder, the .env beside a spec) may not be
// used, "" if it may: its content becomes what nsup does, so it must be a
// regular file (a link is not followed), of nsup's user (or of the user
// who ran sudo nsup) or root, that no one else may write, in a folder dir
// where no one else may replace it.
func Untrusted(fi os.FileInfo, dir string) string {
	if !fi.Mode().IsRegular() {
		return "it is not a regular file (a link is not followed)"
	}
	caller := CallerUID()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != caller && st.Uid != 0 {
		return fmt.Sprintf("it belongs to uid %d, not to you (uid %d) nor root", st.Uid, caller)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("others may write it (mode %04o)", fi.Mode().Perm())
	}
	if d, err := os.Stat(dir); err == nil && d.Mode().Perm()&0o002 != 0 && d.Mode()&os.ModeSticky == 0 {
		return fmt.Sprintf("anyone may replace it in %s (mode %04o, not sticky)", dir, d.Mode().Perm())
	}
	return ""
}

// CallerUID is the user nsup acts for: its real uid, or, run by sudo as
// root, the uid SUDO_UID names (whose spec and .env nsup takes as its
// own, and whose folders and subordinate ids are not another user's).
func CallerUID() uint32 {
	caller := uint32(os.Getuid())
	if u := os.Getenv("SUDO_UID"); u != "" && caller == 0 {
		var n uint32
		if _, err := fmt.Sscan(u, &n); err == nil {
			caller = n
		}
	}
	return caller
}
