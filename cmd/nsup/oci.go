package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsup/nsup/internal/fserr"
	"github.com/nsup/nsup/internal/regfile"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/oci"
	"github.com/nsup/nsup/spec"
)

const exportHelp = `Writes environment ENV of FILE (optional when FILE has one) as an OCI
runtime bundle, for runc, crun, podman or containerd: DIR/config.json
(runtime-spec 1.x) and DIR/rootfs, a copy of the environment's resolved
root tree. DIR must not exist or be an empty folder of yours that no
one else may write to (nor rename in the folders above it).

Every key of the environment maps onto config.json (capabilities,
seccomp profile, masked and read-only paths, no_new_privileges and
rlimits included), or is translated into something close and said so on
stderr (overlay: a writable copy of the root; init: the main process is
PID 1; the root's nodev, which runtimes do not set), or is refused with
exit status 2: a process tree beyond the main process, and join by
environment name. Then: runc run --bundle DIR ID (as root).

With --image DIR (an OCI image layout) or --image-archive FILE (the same
as one tar), writes the environment as an OCI image instead: its resolved
root tree as one layer, and its main process as the image config
(entrypoint, env, working dir, user, exposed ports, labels naming the
spec, its project and its digest). The same spec and lock give the same
bytes (SOURCE_DATE_EPOCH, or 1970, for every time). What an image cannot
carry (hostname, mounts, namespaces, security, limits) is listed on
stderr. The image is named --tag REF, by default
REGISTRY/PROJECT/ENV:latest (--registry, localhost/nsup). Then: podman
load -i FILE, or skopeo copy oci:DIR containers-storage:REF.

With --kube, prints Kubernetes manifests of the environments named (all
when none, with what they join or depend on): those that share
namespaces by name are the containers of one Pod, each other environment
a Pod of its own, each named volume a PersistentVolumeClaim; each
container's image is REGISTRY/PROJECT/ENV:latest, as --image names it.
Every key with no Kubernetes equivalent is listed on stderr. Then:
podman kube play FILE, or kubectl apply -f FILE.`

const importHelp = `Prints the nsup spec (YAML) of an OCI bundle's config.json (or of the
bundle folder that holds it): the bundle's rootfs becomes a dir rootfs,
namespaces, mounts, maps, offsets, hostname, env, cwd, user and the
process map onto nsup's keys; capabilities, no_new_privileges, seccomp
(unconfined, nsup's default, or the config itself as the profile),
masked and read-only paths onto security, rlimits onto rlimits, each
left out where it equals nsup's default here. What nsup cannot express
(cgroups, hooks, devices, options nsup has no key for, ...) is listed on
stderr and at the top of the YAML. nsup export of the result gives back
the same config.json when the bundle was made by nsup export.

With --kube, reads a Kubernetes manifest instead (a Pod, and the
PersistentVolumeClaims beside it): each container becomes an
environment, the first owning the Pod's namespaces and the others
joining them; its image becomes a tar rootfs (the note says how to make
it). What has no nsup equivalent is listed on stderr.`

// defaultSchema is where an imported spec's modeline points: the schema's
// own $id (schema/nsup.schema.json).
const defaultSchema = "https://nsup.dev/schema/nsup.schema.json"

func ociFlags(name string, fs *pflag.FlagSet, pf *planFlags) {
	switch name {
	case "export":
		fs.StringVar(&pf.oci, "oci", "", "write an OCI runtime bundle into `DIR`")
		fs.StringVar(&pf.image, "image", "", "write an OCI image layout into `DIR` (podman load, skopeo copy oci:DIR)")
		fs.StringVar(&pf.imageTar, "image-archive", "", "write an OCI image as one tar, `FILE` (podman load -i FILE)")
		fs.StringVar(&pf.tag, "tag", "", "the image's `REF` (default REGISTRY/PROJECT/ENV:latest)")
		fs.StringVar(&pf.registry, "registry", defaultRegistry, "where the images of --image and --kube are named, a `PREFIX` (registry.example/team); localhost/ images are never pulled")
		fs.BoolVar(&pf.kube, "kube", false, "print Kubernetes manifests (Pods, volume claims) of the environments named, or all")
		fs.StringVarP(&pf.project, "project", "p", "", "the project the image or the manifests are named and labelled after (default: the spec's)")
	case "import":
		fs.StringVar(&pf.schema, "schema", defaultSchema, "the JSON Schema the modeline names, a `URL` or a path relative to where the YAML will be")
		fs.BoolVar(&pf.kube, "kube", false, "read a Kubernetes manifest (a Pod, its claims) instead of an OCI config")
	}
}

func runExport(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("export", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if pf.kube {
		if pf.oci != "" || pf.image != "" || pf.imageTar != "" || pf.tag != "" {
			return usageError{"--kube prints manifests: give it alone"}
		}
		if len(rest) < 1 {
			return usageError{"export --kube takes a FILE and optional ENV names"}
		}
		s, err := parseAll(rest[0], pf.vars(), rest[1:], kubePlan)
		if err != nil {
			return err
		}
		return exportKube(s, rest[1:], pf, ios)
	}
	formats := 0
	for _, f := range []string{pf.oci, pf.image, pf.imageTar} {
		if f != "" {
			formats++
		}
	}
	if formats != 1 {
		return usageError{"export needs one of --oci DIR, --image DIR, --image-archive FILE"}
	}
	if pf.tag != "" && pf.image == "" && pf.imageTar == "" {
		return usageError{"--tag names an image: give --image DIR or --image-archive FILE"}
	}
	if len(rest) < 1 || len(rest) > 2 {
		return usageError{"export takes a FILE and an ENV name"}
	}
	plan := func(s *spec.Spec, envs []string) (*planner.Plan, error) {
		// Planned without a terminal (Options.Terminal), whatever nsup's
		// stdin is: the bundle is the same from a terminal or a script,
		// and process.terminal stays false (a runtime with a terminal
		// needs a console socket, or runs in the foreground of one).
		return planner.Compile(s, planner.Options{Envs: envs, PortableIDs: pf.oci == "", Export: true})
	}
	s, err := parseAll(rest[0], pf.vars(), rest[1:], plan)
	if err != nil {
		return err
	}
	var name string
	switch {
	case len(rest) == 2:
		name = rest[1]
	case len(s.Environments) == 1:
		name = s.Environments[0].Name
	default:
		var names []string
		for _, e := range s.Environments {
			names = append(names, e.Name)
		}
		return usageError{fmt.Sprintf("%s has %d environments (%s): name the one to export", rest[0], len(names), strings.Join(names, ", "))}
	}
	p, err := plan(s, []string{name})
	if err != nil {
		return invalidError{err}
	}
	if pf.oci == "" {
		return exportImage(ctx, s, p, name, pf, ios)
	}
	b, err := oci.Export(s, p, name)
	var refused oci.Refused
	if errors.As(err, &refused) {
		return invalidError{fmt.Errorf("%w\nnsup: export: no bundle written: the keys above have no OCI equivalent", refused)}
	}
	if err != nil {
		return err
	}
	for _, n := range b.Notes {
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", planner.Shown(n.String()))
	}
	if err := writeBundle(ctx, pf.oci, b); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(ios.stderr, "nsup: exported %s to %s; run it with: runc run --bundle %s %s\n", name, pf.oci, pf.oci, name)
	return nil
}

// writeBundle makes dir an OCI bundle: the rootfs first, config.json last,
// so that a bundle with a config is complete. On failure it removes what
// it made.
func writeBundle(ctx context.Context, dir string, b *oci.Bundle) (err error) {
	made, err := emptyDir(dir, "bundle")
	if err != nil {
		return err
	}
	if err := ownOutput("bundle folder", dir); err != nil {
		if made {
			os.Remove(dir)
		}
		return err
	}
	rootfs := filepath.Join(dir, oci.RootfsDir)
	defer func() {
		if err != nil {
			removeAll(rootfs)
			if made {
				os.Remove(dir)
			}
		}
	}()
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	r := b.Rootfs
	switch r.Type {
	case "closure":
		err = store.BuildTree(ctx, rootfs, r.Files)
	case "dir":
		err = copyTree(r.Path, rootfs)
	case "tar":
		// The unpacked tree is what apply would use; nsup makes it as
		// apply does, then copies it.
		if err = store.PrepareRootfs(ctx, r); err == nil {
			err = copyTree(r.Path, rootfs)
		}
		if err != nil {
			err = fmt.Errorf("rootfs.tar %s: %w (export copies the unpacked tree)", r.Sources[0], err)
		}
	default:
		err = fmt.Errorf("rootfs kind %q: unknown", r.Type)
	}
	if err != nil {
		return err
	}
	if err := writeFiles(rootfs, b.Files); err != nil {
		return err
	}
	js, err := json.MarshalIndent(b.Config, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "config.json"), append(js, '\n'), 0o600)
}

// removeAll removes a partial tree, making directories writable first.
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// copyTree copies the tree at src into the empty directory dst: files,
// directories, symlinks (never followed), hard links, device nodes and
// fifos, with their modes, and their owners when run as root. Every path
// is created through an os.Root of dst, so nothing lands outside it.
// Extended attributes (file capabilities, SELinux labels) are not copied.
func copyTree(src, dst string) error {
	r, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer r.Close()
	// Read through an os.Root of src too: a folder of the tree swapped
	// for a symlink while the walk goes on (by whoever may write in the
	// tree) cannot make it read outside the tree.
	sr, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer sr.Close()
	sfd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	type dirMode struct {
		rel  string
		mode fs.FileMode
	}
	var dirs []dirMode
	links := map[[2]uint64]string{}
	root := os.Geteuid() == 0
	// Every error names a file of the tree quoted (fserr): its name is
	// the tree's, and a line break in it split the error into lines.
	copyOne := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		st, err := sr.Lstat(rel)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		mode := st.Mode()
		switch {
		case rel == ".":
			dirs = append(dirs, dirMode{rel, mode})
		case mode.IsDir():
			if err := r.Mkdir(rel, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{rel, mode})
		case mode.Type() == fs.ModeSymlink:
			target, err := sr.Readlink(rel)
			if err != nil {
				return err
			}
			if err := r.Symlink(target, rel); err != nil {
				return err
			}
		case mode.IsRegular() && sys.Nlink > 1 && links[[2]uint64{sys.Dev, sys.Ino}] != "":
			return r.Link(links[[2]uint64{sys.Dev, sys.Ino}], rel)
		case mode.IsRegular():
			if sys.Nlink > 1 {
				links[[2]uint64{sys.Dev, sys.Ino}] = rel
			}
			if err := copyFile(r, sfd, rel); err != nil {
				return err
			}
		default: // device node, fifo, socket
			parent, err := r.Open(filepath.Dir(rel))
			if err != nil {
				return err
			}
			err = unix.Mknodat(int(parent.Fd()), filepath.Base(rel), sys.Mode, int(sys.Rdev))
			parent.Close()
			if err != nil {
				return fmt.Errorf("%q: mknod: %w", p, err)
			}
		}
		if root {
			if err := r.Lchown(rel, int(sys.Uid), int(sys.Gid)); err != nil {
				return err
			}
		}
		// After chown, which clears setuid and setgid bits.
		if !mode.IsDir() && mode.Type() != fs.ModeSymlink {
			return r.Chmod(rel, mode)
		}
		return nil
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		return fserr.Quoted(copyOne(p, d, err))
	})
	if err != nil {
		return err
	}
	// Directory modes last, so that a read-only directory is filled first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := r.Chmod(dirs[i].rel, dirs[i].mode); err != nil {
			return fserr.Quoted(err)
		}
	}
	return nil
}

func copyFile(r *os.Root, srcfd int, rel string) error {
	// A regular file still, below the tree (regfile): not a FIFO or a
	// device put there since the walk saw a file.
	in, err := regfile.OpenBeneath(srcfd, rel)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := r.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func runImport(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("import", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if pf.kube {
		if len(rest) != 1 {
			return usageError{"import --kube takes one manifest FILE"}
		}
		return importKube(rest[0], ios)
	}
	if len(rest) != 1 {
		return usageError{"import takes one config.json (or the bundle folder that holds it)"}
	}
	file := rest[0]
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		file = filepath.Join(file, "config.json")
	}
	data, err := regfile.ReadBounded(file, oci.MaxConfig) // a bundle's: a regular file
	if err != nil {
		return invalidError{err}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	bundle := filepath.Dir(abs)
	// nsup's defaults as apply would plan them here: what equals them is
	// left out of the YAML.
	caller := planner.CurrentCaller()
	out, notes, err := oci.Import(data, oci.ImportOptions{File: file, Bundle: bundle, Path: abs, Schema: pf.schema,
		HostPath: hostPath, Caller: &caller})
	if err != nil {
		return invalidError{err}
	}
	// What nsup prints, nsup must accept.
	if _, err := spec.ParseBytes(file+" (imported)", bundle, out); err != nil {
		// Printable: a bundle's strings (a mount's destination, an
		// annotation's key) hold what its author chose, escape sequences
		// to the caller's terminal among them (a review: set its title,
		// erased its lines), as import --kube's do.
		return invalidError{fmt.Errorf("%s: the translation is not a valid nsup spec:\n%w\n%s", file, err, lifecycle.PrintableText(string(out)))}
	}
	for _, n := range notes {
		fmt.Fprintf(ios.stderr, "nsup: import: %s\n", lifecycle.Printable(n.String()))
	}
	_, err = ios.stdout.Write(out)
	return err
}

// hostPath tells whether a host path exists and is a folder, without
// following a last symlink, as the planner's default does.
func hostPath(p string) (isDir, ok bool) {
	st, err := os.Lstat(p)
	if err != nil {
		return false, false
	}
	return st.IsDir(), true
}

// writeFiles writes nsup's generated files into the bundle's rootfs, over
// what is there, through an os.Root of it: nothing lands outside it (a
// link in the tree is followed only inside).
func writeFiles(rootfs string, files []oci.File) error {
	if len(files) == 0 {
		return nil
	}
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, "/")
		r.MkdirAll(filepath.Dir(rel), 0o755)
		r.Remove(rel)
		w, err := r.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		_, err = w.WriteString(f.Content)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}
