package owndir

// Who but a folder's owner may write to it: others (the mode's 0o002),
// its group (0o020), or whoever a POSIX ACL names (setfacl -m
// u:bob:rwx), whose entries the mode's bits do not show (a folder's
// mode 0755 with an ACL granting bob rwx under an rwx mask shows
// 0775, its group bits being the mask, and the group's own entry may
// be r-x under it).

import (
	"encoding/binary"
	"fmt"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// The ACL's xattr (linux/posix_acl_xattr.h): a little-endian header,
// version 2, then entries of tag (16 bits), perm (16) and id (32).
const (
	aclXattr   = "system.posix_acl_access"
	aclVersion = 2
	aclUser    = 0x02 // a named user (ACL_USER)
	aclGroupOb = 0x04 // the file's group (ACL_GROUP_OBJ)
	aclGroup   = 0x08 // a named group (ACL_GROUP)
	aclMask    = 0x10 // the most a named entry or the group may do
	aclWrite   = 0x02
)

// aclEntry is one entry of a POSIX ACL.
type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// parseACL parses the value of system.posix_acl_access.
func parseACL(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != aclVersion {
		return nil, fmt.Errorf("%s of %d bytes: not a version %d POSIX ACL", aclXattr, len(b), aclVersion)
	}
	var es []aclEntry
	for b = b[4:]; len(b) > 0; b = b[8:] {
		es = append(es, aclEntry{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])})
	}
	return es, nil
}

// readACL reads the ACL of the file at path (a symlink followed: a
// /proc/self/fd/N of an O_PATH fd reads that very file's); nil if it has
// none, or its filesystem keeps none.
func readACL(path string) ([]aclEntry, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Getxattr(path, aclXattr, buf)
		switch {
		case err == unix.ERANGE && len(buf) < 1<<20:
			buf = make([]byte, 2*len(buf))
			continue
		case err == unix.ENODATA, err == unix.EOPNOTSUPP:
			return nil, nil
		case err != nil:
			return nil, err
		}
		return parseACL(buf[:n])
	}
}

// OthersWrite says who, but the owner of the folder st (at path, through
// which its ACL is read) and the uids trusted, may write to it: ""
// if nobody. Others may ("every user") if the mode says so; a group may
// unless it is the private group of the owner or of a uid trusted (its
// only member: privateGroup); a user named in its ACL may unless it is
// one of those; a group named there as a group is. An ACL's entries
// count as far as its mask lets them. A folder whose ACL cannot be read
// is an error: nsup cannot tell who may write to it.
func OthersWrite(path string, st *unix.Stat_t, trusted ...uint32) (string, error) {
	if st.Mode&0o002 != 0 {
		return "every user", nil
	}
	trusted = append([]uint32{st.Uid}, trusted...)
	own := func(gid uint32) bool {
		for _, u := range trusted {
			if privateGroup("/", u, gid) {
				return true
			}
		}
		return false
	}
	acl, err := readACL(path)
	if err != nil {
		return "", fmt.Errorf("its ACL (%s): %w", aclXattr, err)
	}
	if acl == nil {
		if st.Mode&0o020 != 0 && !own(st.Gid) {
			return groupName(st.Gid, ""), nil
		}
		return "", nil
	}
	mask := uint16(aclWrite)
	for _, e := range acl {
		if e.tag == aclMask {
			mask = e.perm
		}
	}
	for _, e := range acl {
		if e.perm&mask&aclWrite == 0 {
			continue
		}
		switch e.tag {
		case aclUser:
			if !trustedUID(e.id, trusted) {
				return "uid " + strconv.FormatUint(uint64(e.id), 10) + " (named in its ACL)", nil
			}
		case aclGroupOb:
			if !own(st.Gid) {
				return groupName(st.Gid, ""), nil
			}
		case aclGroup:
			if !own(e.id) {
				return groupName(e.id, ", named in its ACL"), nil
			}
		}
	}
	return "", nil
}

// trustedUID says whether uid is one of trusted.
func trustedUID(uid uint32, trusted []uint32) bool {
	for _, u := range trusted {
		if u == uid {
			return true
		}
	}
	return false
}

// groupName names gid for a message, with what (", named in its ACL"):
// "group dev (gid 1002)".
func groupName(gid uint32, what string) string {
	id := strconv.FormatUint(uint64(gid), 10)
	name := "(no name)"
	if g, err := user.LookupGroupId(id); err == nil {
		name = g.Name
	}
	return "group " + name + " (gid " + id + what + ")"
}
