package planner

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/nsup/nsup/spec"
)

// volumeBarsOthers refuses a named volume at path that every host user
// could reach, when nsup runs as root: root
// inside writes the volume as the host's root (or, with idmap, as the uid
// root inside maps to), and a setuid program it leaves there ran, for
// any host user who reached the folder, as that uid: the host's root, or
// the mapped uid of every environment sharing the maps, whose processes
// it then signalled (helper-107's review; Docker's CVE-2021-41091, fixed
// by a data directory of mode 0710). nsup's own volume folder is 0700,
// root's; one given by NSUP_VOLUME_DIR must have a folder on the way that
// is not searchable by others (the volume's own mode bars nobody: root
// inside, its owner, changes it). Rootless, root inside is the caller, who
// may make such programs anyway: not checked.
func (ec *envCompiler) volumeBarsOthers(pos spec.Pos, field, name, path string) {
	if !ec.caller.Privileged || ec.opts.Export {
		return
	}
	barred := false
	ec.folders(filepath.Dir(path), func(at string, _, _, mode uint32, err error) bool {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			barred = true // apply makes it 0700
		case err != nil:
			ec.errorf(pos, field, "volume %s's folder %s: %v", name, at, err)
			barred = true
		default:
			barred = mode&0o001 == 0
		}
		return !barred
	})
	if barred {
		return
	}
	uid := "the host's root"
	if u, _, ok := ec.mappedRoot(); ok {
		uid = fmt.Sprintf("host uid %d (root inside, through the id maps)", u)
	}
	ec.errorf(pos, field, "volume %s's folder %s can be reached by every host user (each folder on its way is searchable by others): root inside writes it as %s, and a setuid program it left there would run as that uid for any of them; give nsup volumes (NSUP_VOLUME_DIR) where a folder on the way bars others (mode 0700, or 0710 with the group of the uid root inside maps to, as Docker's data directory is)", name, path, uid)
}
