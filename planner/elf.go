package planner

// What the dynamic loader reads of an ELF file (program interpreter, DT_NEEDED, RPATH, RUNPATH), read with bounds: a crafted file must not make the planner allocate without end.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// elfObjectInfo is what the loader reads from an ELF file.
type elfObjectInfo struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
	interp  string   // PT_INTERP, or ""
	needed  []string // DT_NEEDED, in order
	soname  string
	rpath   *string // DT_RPATH; nil when absent or when DT_RUNPATH is set
	runpath *string
	flags1  uint64 // DT_FLAGS_1
}

// closureArchInfo describes how glibc names things for one ELF class and
// machine.
type closureArchInfo struct {
	triplet  string   // Debian multiarch triplet
	platform string   // AT_PLATFORM
	cacheReq []uint32 // ld.so.cache FLAG_*_LIB* values allowed; nil: any
}

type closureArchKey struct {
	class   elf.Class
	machine elf.Machine
}

// closureArches: ld.so.cache flags from glibc's sysdeps/generic/ldconfig.h
// (FLAG_X8664_LIB64 0x0300, …); triplets from Debian's multiarch names.
var closureArches = map[closureArchKey]closureArchInfo{
	{elf.ELFCLASS64, elf.EM_X86_64}:    {"x86_64-linux-gnu", "x86_64", []uint32{0x0300}},
	{elf.ELFCLASS32, elf.EM_X86_64}:    {"x86_64-linux-gnux32", "x86_64", []uint32{0x0800}},
	{elf.ELFCLASS32, elf.EM_386}:       {"i386-linux-gnu", "i686", []uint32{0}},
	{elf.ELFCLASS64, elf.EM_AARCH64}:   {"aarch64-linux-gnu", "aarch64", []uint32{0x0a00}},
	{elf.ELFCLASS32, elf.EM_ARM}:       {"arm-linux-gnueabihf", "", []uint32{0x0900, 0x0b00, 0}},
	{elf.ELFCLASS64, elf.EM_PPC64}:     {"powerpc64le-linux-gnu", "", []uint32{0x0500}},
	{elf.ELFCLASS32, elf.EM_PPC}:       {"powerpc-linux-gnu", "", []uint32{0}},
	{elf.ELFCLASS64, elf.EM_S390}:      {"s390x-linux-gnu", "s390x", []uint32{0x0400}},
	{elf.ELFCLASS64, elf.EM_SPARCV9}:   {"sparc64-linux-gnu", "", []uint32{0x0100}},
	{elf.ELFCLASS64, elf.EM_IA_64}:     {"ia64-linux-gnu", "", []uint32{0x0200}},
	{elf.ELFCLASS64, elf.EM_RISCV}:     {"riscv64-linux-gnu", "", []uint32{0x0f00, 0x1000}},
	{elf.ELFCLASS64, elf.EM_LOONGARCH}: {"loongarch64-linux-gnu", "", []uint32{0x1100, 0x1200}},
}

func closureArch(info *elfObjectInfo) closureArchInfo {
	return closureArches[closureArchKey{info.class, info.machine}]
}

// closureLIB is the expansion of $LIB.
func closureLIB(info *elfObjectInfo) string {
	if t := closureArch(info).triplet; t != "" {
		if st, err := os.Stat("/lib/" + t); err == nil && st.IsDir() {
			return "lib/" + t
		}
	}
	if info.class == elf.ELFCLASS64 {
		return "lib64"
	}
	return "lib"
}

// closureDefaultDirs are the loader's built-in folders for this class and
// machine (see the file comment).
func closureDefaultDirs(info *elfObjectInfo) []string {
	var dirs []string
	if t := closureArch(info).triplet; t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if info.class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// closureFits reports whether p is an ELF file the requester could load:
// same class, byte order and machine (glibc's open_verify).
func closureFits(p string, want *elfObjectInfo) bool {
	f, err := OpenFile(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != elf.ELFMAG {
		return false
	}
	class, data := elf.Class(h[elf.EI_CLASS]), elf.Data(h[elf.EI_DATA])
	var machine elf.Machine
	switch data {
	case elf.ELFDATA2LSB:
		machine = elf.Machine(binary.LittleEndian.Uint16(h[18:]))
	case elf.ELFDATA2MSB:
		machine = elf.Machine(binary.BigEndian.Uint16(h[18:]))
	default:
		return false
	}
	return class == want.class && data == want.data && machine == want.machine
}

// readELFObject reads what the loader needs from the file p: the program
// headers, PT_INTERP and the dynamic segment. It goes by program headers,
// not sections, as the loader does, so stripped section tables do not
// matter. nil, nil for a file that is not ELF.
func readELFObject(p string) (*elfObjectInfo, error) {
	f, err := OpenFile(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	info := &elfObjectInfo{class: ef.Class, data: ef.Data, machine: ef.Machine}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return info, nil // objects and core files load nothing
	}
	var dyn *elf.Prog
	for _, prog := range ef.Progs {
		switch prog.Type {
		case elf.PT_INTERP:
			b, err := closureReadProg(prog, 4096)
			if err != nil {
				return nil, fmt.Errorf("%s: PT_INTERP: %w", p, err)
			}
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			info.interp = string(b)
		case elf.PT_DYNAMIC:
			dyn = prog
		}
	}
	if dyn == nil {
		return info, nil // statically linked
	}
	b, err := closureReadProg(dyn, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: PT_DYNAMIC: %w", p, err)
	}
	var (
		needed                []uint64
		soname, rpath, runpat *uint64
		strtab, strsz         uint64
	)
	size := 16
	if ef.Class == elf.ELFCLASS32 {
		size = 8
	}
	for off := 0; off+size <= len(b); off += size {
		var tag, val uint64
		if size == 16 {
			tag, val = ef.ByteOrder.Uint64(b[off:]), ef.ByteOrder.Uint64(b[off+8:])
		} else {
			tag, val = uint64(ef.ByteOrder.Uint32(b[off:])), uint64(ef.ByteOrder.Uint32(b[off+4:]))
		}
		v := val
		// The last entry of a tag wins, as in glibc's l_info.
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			off = len(b)
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_SONAME:
			soname = &v
		case elf.DT_RPATH:
			rpath = &v
		case elf.DT_RUNPATH:
			runpat = &v
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_FLAGS_1:
			info.flags1 = val
		}
	}
	if len(needed) == 0 && soname == nil && rpath == nil && runpat == nil {
		return info, nil
	}
	// DT_STRTAB is an address: find the file offset through PT_LOAD.
	var strs []byte
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_LOAD && strtab >= prog.Vaddr && strtab-prog.Vaddr < prog.Filesz {
			n := min(strsz, prog.Filesz-(strtab-prog.Vaddr))
			// The headers' sizes are claims: the buffer is never larger
			// than what the file holds there.
			if off := prog.Off + strtab - prog.Vaddr; off < uint64(fi.Size()) {
				n = min(n, uint64(fi.Size())-off)
			}
			if n > 64<<20 {
				return nil, fmt.Errorf("%s: string table of %d bytes", p, n)
			}
			strs = make([]byte, n)
			if _, err := f.ReadAt(strs, int64(prog.Off+strtab-prog.Vaddr)); err != nil {
				return nil, fmt.Errorf("%s: string table: %w", p, err)
			}
			break
		}
	}
	// Every entry may name the same long string: what is copied out is
	// bounded (a real object's names and paths are a few KiB).
	budget := 1 << 20
	str := func(off uint64) (string, error) {
		if off >= uint64(len(strs)) {
			return "", fmt.Errorf("%s: dynamic string at %d outside the string table", p, off)
		}
		s := strs[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		if budget -= len(s); budget < 0 {
			return "", fmt.Errorf("%s: dynamic strings of more than 1 MiB", p)
		}
		return string(s), nil
	}
	for _, off := range needed {
		s, err := str(off)
		if err != nil {
			return nil, err
		}
		info.needed = append(info.needed, s)
	}
	if soname != nil {
		if info.soname, err = str(*soname); err != nil {
			return nil, err
		}
	}
	if runpat != nil {
		s, err := str(*runpat)
		if err != nil {
			return nil, err
		}
		info.runpath = &s
	} else if rpath != nil {
		// With DT_RUNPATH present, DT_RPATH is ignored.
		s, err := str(*rpath)
		if err != nil {
			return nil, err
		}
		info.rpath = &s
	}
	return info, nil
}

func closureReadProg(prog *elf.Prog, limit uint64) ([]byte, error) {
	if prog.Filesz > limit {
		return nil, fmt.Errorf("segment of %d bytes", prog.Filesz)
	}
	b := make([]byte, prog.Filesz)
	if _, err := io.ReadFull(prog.Open(), b); err != nil {
		return nil, err
	}
	return b, nil
}

// ELFInterp is the program interpreter (PT_INTERP) of the ELF program at
// p, "" for a static one; an error where p is not ELF or cannot be read.
func ELFInterp(p string) (string, error) {
	info, err := readELFObject(p)
	if err != nil {
		return "", err
	}
	if info == nil {
		return "", fmt.Errorf("%s: not an ELF file", p)
	}
	return info.interp, nil
}
