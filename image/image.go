package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nsup/nsup/internal/fserr"
)

// Image is what Write makes an image of.
type Image struct {
	// Ref is the image's full reference (localhost/nsup/PROJECT/ENV:latest),
	// index.json's org.opencontainers.image.ref.name: podman load names the
	// image by it.
	Ref string
	// Tree is the folder whose content is the image's one layer.
	Tree string
	// Owners maps an entry's owner on this host to the layer's.
	Owners func(uid, gid int) (int, int)
	// Config is the image config's config (process, env, labels, ports).
	Config ImageConfig
	// Created is every timestamp written.
	Created time.Time
	// Architecture is the platform's (GOARCH).
	Architecture string
}

// Squash owns every entry by root: a tree nsup made of the host's files
// (a closure), whose owners inside are root.
func Squash(int, int) (int, int) { return 0, 0 }

// Created is the images' time: $SOURCE_DATE_EPOCH (reproducible-builds.org)
// if set, else the Unix epoch.
func Created() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds since 1970", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

// Layout is the oci-layout file's content.
const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Write makes dir, which must be empty, an image layout holding img, and
// returns the manifest's descriptor. Everything is written through an
// os.Root of dir, with O_EXCL: a symlink planted in dir (by whoever may
// write there) is never followed out of it, nor written over.
func Write(dir string, img Image) (Descriptor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Descriptor{}, err
	}
	defer root.Close()
	const blobs = "blobs/sha256"
	if err := root.MkdirAll(blobs, 0o755); err != nil {
		return Descriptor{}, err
	}
	layer, err := writeLayer(root, blobs, img)
	if err != nil {
		return Descriptor{}, err
	}
	created := img.Created
	cfg := Config{
		Created:  &created,
		Platform: Platform{Architecture: img.Architecture, OS: "linux"},
		Config:   img.Config,
		RootFS:   RootFS{Type: "layers", DiffIDs: []Digest{layer.Digest}},
		History:  []History{{Created: &created, CreatedBy: "nsup export --image", Comment: "the environment's root tree"}},
	}
	cfgDesc, err := writeJSON(root, blobs, MediaTypeImageConfig, cfg)
	if err != nil {
		return Descriptor{}, err
	}
	m := Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeImageManifest,
		Config:        cfgDesc,
		Layers:        []Descriptor{layer},
	}
	mDesc, err := writeJSON(root, blobs, MediaTypeImageManifest, m)
	if err != nil {
		return Descriptor{}, err
	}
	mDesc.Annotations = map[string]string{AnnotationRefName: img.Ref}
	mDesc.Platform = &cfg.Platform
	idx := Index{
		SchemaVersion: 2,
		MediaType:     MediaTypeImageIndex,
		Manifests:     []Descriptor{mDesc},
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return Descriptor{}, err
	}
	if err := writeNew(root, ImageIndexFile, b); err != nil {
		return Descriptor{}, err
	}
	if err := writeNew(root, ImageLayoutFile, []byte(layoutFile)); err != nil {
		return Descriptor{}, err
	}
	return mDesc, nil
}

// writeNew writes a new file of root (O_EXCL: never over a link put there).
func writeNew(root *os.Root, name string, b []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeJSON writes v as a blob.
func writeJSON(root *os.Root, blobs, mediaType string, v any) (Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Descriptor{}, err
	}
	d := FromBytes(b)
	if err := writeNew(root, blobs+"/"+d.Encoded(), b); err != nil && !errors.Is(err, os.ErrExist) {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

// writeLayer writes img.Tree as an uncompressed tar blob, its digest
// computed as it is written (the diff ID too: it is not compressed).
func writeLayer(root *os.Root, blobs string, img Image) (Descriptor, error) {
	tmp := blobs + "/.layer"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Descriptor{}, err
	}
	defer root.Remove(tmp) // after the rename, nothing
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = writeTree(cw, img.Tree, img.Owners, img.Created)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Descriptor{}, err
	}
	d := digestOf(h)
	if err := root.Rename(tmp, blobs+"/"+d.Encoded()); err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: MediaTypeImageLayer, Digest: d, Size: cw.n}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeTree writes the tree at root as a tar, root itself left out: in
// lexical order, every time t, owners through owners (nil: as they are),
// no names, hard links as links to their first path. Sockets are left out
// (a tar has no such entry).
func writeTree(w io.Writer, root string, owners func(int, int) (int, int), t time.Time) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	// Every error names a file of the tree quoted (fserr): its name is
	// the tree's, and a line break in it split the error into lines.
	one := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Type() == fs.ModeSocket {
			return nil
		}
		target := ""
		if fi.Mode().Type() == fs.ModeSymlink {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fserr.Named(p, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		if owners != nil {
			h.Uid, h.Gid = owners(h.Uid, h.Gid)
		}
		h.ModTime, h.AccessTime, h.ChangeTime = t, time.Time{}, time.Time{}
		h.Format = tar.FormatPAX
		h.PAXRecords = nil
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[key] = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fserr.Named(p, err)
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, h.Size)
			f.Close()
			if err != nil {
				return fserr.Named(p, err)
			}
		}
		return nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		return fserr.Quoted(one(p, d, err))
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Archive writes the image layout at dir as one tar (an oci-archive),
// reproducibly: sorted, owned by root, every time t.
func Archive(w io.Writer, dir string, t time.Time) error {
	return writeTree(w, dir, Squash, t)
}

// Check reads the layout at dir back: index, manifest, config and layer
// blobs present, of their recorded sizes and digests. What export checks
// before it reports success.
func Check(dir string) error {
	var idx Index
	if err := readJSON(filepath.Join(dir, ImageIndexFile), &idx); err != nil {
		return err
	}
	if len(idx.Manifests) == 0 {
		return errors.New("index.json lists no manifest")
	}
	for _, md := range idx.Manifests {
		var m Manifest
		if err := verify(dir, md); err != nil {
			return err
		}
		if err := readJSON(blob(dir, md.Digest), &m); err != nil {
			return err
		}
		descs := append([]Descriptor{m.Config}, m.Layers...)
		for _, d := range descs {
			if err := verify(dir, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func blob(dir string, d Digest) string {
	return filepath.Join(dir, "blobs", "sha256", d.Encoded())
}

func verify(dir string, d Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return err
	}
	f, err := os.Open(blob(dir, d.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != d.Size || digestOf(h) != d.Digest {
		return fmt.Errorf("blob %s: %d bytes, or another digest (the descriptor says %d)", d.Digest, n, d.Size)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// ExposedPorts is the image config's set of "PORT/PROTO" keys.
func ExposedPorts(ports []string) map[string]struct{} {
	if len(ports) == 0 {
		return nil
	}
	out := map[string]struct{}{}
	for _, p := range ports {
		out[p] = struct{}{}
	}
	return out
}
