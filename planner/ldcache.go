package planner

// /etc/ld.so.cache, both layouts, as the dynamic loader reads it.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"slices"
)

// ldsoCache is a parsed /etc/ld.so.cache (glibc's elf/cache.c and
// sysdeps/generic/dl-cache.h).
type ldsoCache struct {
	entries []ldsoCacheEntry // in file order: sorted, best first
}

type ldsoCacheEntry struct {
	flags      uint32
	key, value string // soname, path
	hwcap      uint64
}

// parseLdsoCache reads both layouts: the new format alone (glibc ≥ 2.32's
// default), and the old format followed by the new one (older ldconfig's
// "compat"), where the new part starts at the next 8- (or, from a 32-bit
// ldconfig, 4-) byte boundary after the old entries. The old format alone
// is read too.
func parseLdsoCache(b []byte) (*ldsoCache, error) {
	if bytes.HasPrefix(b, []byte(ldsoCacheNewMagic)) {
		return parseLdsoCacheNew(b)
	}
	if !bytes.HasPrefix(b, []byte(ldsoCacheOldMagic)) {
		return nil, errors.New("ld.so.cache: unknown format")
	}
	if len(b) < ldsoCacheOldHeader {
		return nil, errors.New("ld.so.cache: truncated")
	}
	n := uint64(binary.NativeEndian.Uint32(b[12:]))
	end := ldsoCacheOldHeader + n*ldsoCacheOldEntry
	if end > uint64(len(b)) {
		return nil, errors.New("ld.so.cache: truncated")
	}
	for _, align := range []uint64{8, 4} {
		off := (end + align - 1) &^ (align - 1)
		if off < uint64(len(b)) && bytes.HasPrefix(b[off:], []byte(ldsoCacheNewMagic)) {
			return parseLdsoCacheNew(b[off:])
		}
	}
	// Old format only: strings follow the entries.
	strs := b[end:]
	c := &ldsoCache{}
	for i := uint64(0); i < n; i++ {
		e := b[ldsoCacheOldHeader+i*ldsoCacheOldEntry:]
		key, ok1 := ldsoCacheString(strs, binary.NativeEndian.Uint32(e[4:]))
		value, ok2 := ldsoCacheString(strs, binary.NativeEndian.Uint32(e[8:]))
		if !ok1 || !ok2 {
			return nil, errors.New("ld.so.cache: string outside the file")
		}
		c.entries = append(c.entries, ldsoCacheEntry{flags: binary.NativeEndian.Uint32(e), key: key, value: value})
	}
	return c, nil
}

// parseLdsoCacheNew reads the new format from b, which starts at its
// header; string offsets count from that header.
func parseLdsoCacheNew(b []byte) (*ldsoCache, error) {
	if len(b) < ldsoCacheNewHeader {
		return nil, errors.New("ld.so.cache: truncated")
	}
	var bo binary.ByteOrder = binary.NativeEndian
	switch b[28] {
	case 2:
		bo = binary.LittleEndian
	case 3:
		bo = binary.BigEndian
	}
	n := uint64(bo.Uint32(b[20:]))
	if ldsoCacheNewHeader+n*ldsoCacheNewEntry > uint64(len(b)) {
		return nil, errors.New("ld.so.cache: truncated")
	}
	c := &ldsoCache{}
	for i := uint64(0); i < n; i++ {
		e := b[ldsoCacheNewHeader+i*ldsoCacheNewEntry:]
		key, ok1 := ldsoCacheString(b, bo.Uint32(e[4:]))
		value, ok2 := ldsoCacheString(b, bo.Uint32(e[8:]))
		if !ok1 || !ok2 {
			return nil, errors.New("ld.so.cache: string outside the file")
		}
		c.entries = append(c.entries, ldsoCacheEntry{
			flags: bo.Uint32(e), key: key, value: value, hwcap: bo.Uint64(e[16:]),
		})
	}
	return c, nil
}

// ldsoCacheString returns the string at off. One longer than PATH_MAX
// (no soname or path the loader opens is) is refused: a crafted cache
// whose entries all name one long string would be copied per entry.
func ldsoCacheString(b []byte, off uint32) (string, bool) {
	if uint64(off) >= uint64(len(b)) {
		return "", false
	}
	s := b[off:]
	i := bytes.IndexByte(s[:min(len(s), 4096)], 0)
	if i < 0 {
		return "", false
	}
	return string(s[:i]), true
}

// lookup returns the paths of the entries for name that a requester of
// this class and machine accepts, in cache order. Entries with hwcap bits
// (glibc-hwcaps subdirectories, legacy hwcaps) are skipped: see the file
// comment.
func (c *ldsoCache) lookup(name string, class elf.Class, machine elf.Machine) []string {
	var out []string
	for _, e := range c.entries {
		if e.key == name && e.hwcap == 0 && ldsoCacheFlagsFit(e.flags, class, machine) {
			out = append(out, e.value)
		}
	}
	return out
}

// ldsoCacheFlagsFit is glibc's _dl_cache_check_flags: FLAG_ELF (1), or
// FLAG_ELF_LIBC6 (3) with the machine's FLAG_*_LIB* bits. For a machine not
// in the table any libc6 entry is accepted; the ELF header is checked after.
func ldsoCacheFlagsFit(flags uint32, class elf.Class, machine elf.Machine) bool {
	if flags == 1 {
		return true
	}
	if flags&0xff != 3 {
		return false
	}
	a, ok := closureArches[closureArchKey{class, machine}]
	if !ok || a.cacheReq == nil {
		return true
	}
	return slices.Contains(a.cacheReq, flags&0xff00)
}

const (
	ldsoCacheOldMagic = "ld.so-1.7.0"
	ldsoCacheNewMagic = "glibc-ld.so.cache1.1"
	// struct cache_file: magic[11], nlibs (uint32 at 12); entries of
	// {int32 flags; uint32 key, value}.
	ldsoCacheOldHeader = 16
	ldsoCacheOldEntry  = 12
	// struct cache_file_new: magic[17] version[3] nlibs len_strings
	// flags(u8) pad[3] extension_offset unused[3]; entries of
	// {int32 flags; uint32 key, value, osversion; uint64 hwcap}.
	ldsoCacheNewHeader = 48
	ldsoCacheNewEntry  = 24
)
