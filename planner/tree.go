package planner

import (
	"os"
	"path"
	"path/filepath"
)

// treeView looks up one path of a root tree without following its last
// component, as lstat(2) would.
type treeView func(p string) (File, bool)

func mapTree(m map[string]File) treeView {
	return func(p string) (File, bool) { f, ok := m[p]; return f, ok }
}

// dirTree views a host directory as a root tree. It only reads.
func dirTree(root string) treeView {
	return func(p string) (File, bool) {
		full := filepath.Join(root, p)
		st, err := os.Lstat(full)
		if err != nil {
			return File{}, false
		}
		f := File{Path: p, Mode: uint32(st.Mode().Perm())}
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			f.Type = "symlink"
			f.Link, _ = os.Readlink(full)
		case st.IsDir():
			f.Type = "dir"
		case st.Mode().IsRegular():
			f.Type = "file"
		default:
			f.Type = "other"
		}
		return f, true
	}
}

// resolveIn resolves p inside the tree as the kernel would with the tree
// as its root: symlinks are followed, absolute ones from the tree's root,
// and ".." never climbs above it. It returns the final entry.
func resolveIn(t treeView, p string) (File, bool) {
	links := 0
	cur := "/"
	rest := splitPath(p)
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			cur = path.Dir(cur) // never above "/": the tree is the root
			continue
		}
		next := path.Join(cur, name)
		f, ok := t(next)
		if !ok {
			return File{}, false
		}
		if f.Type == "symlink" {
			if links++; links > 40 {
				return File{}, false // ELOOP
			}
			target := f.Link
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			rest = append(splitPath(target), rest...)
			cur = "/"
			continue
		}
		if len(rest) > 0 && f.Type != "dir" {
			return File{}, false
		}
		cur = next
	}
	if cur == "/" {
		return File{Path: "/", Type: "dir", Mode: 0o755}, true
	}
	return t(cur)
}

func splitPath(p string) []string {
	var out []string
	for _, s := range filepathSplit(p) {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

func filepathSplit(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
