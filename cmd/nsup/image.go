package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nsup/nsup/image"
	"github.com/nsup/nsup/internal/owndir"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/exportnote"
	"github.com/nsup/nsup/planner/oci"
	"github.com/nsup/nsup/spec"
)

// Labels nsup export --image writes into the image config.
const (
	labelEnvironment = "dev.nsup.environment"
	labelProject     = "dev.nsup.project"
	labelSpec        = "dev.nsup.spec"
	labelSpecDigest  = "dev.nsup.spec-digest"
)

// defaultRegistry is where export's images are named by default: podman's
// local store (localhost/ is never pulled).
const defaultRegistry = "localhost/nsup"

// imageRef is the default reference of environment env's image, under
// registry (--registry; "" is defaultRegistry).
func imageRef(registry, project, env string) string {
	if registry == "" {
		registry = defaultRegistry
	}
	return strings.TrimSuffix(registry, "/") + "/" + project + "/" + env + ":latest"
}

// exportImage writes environment name as an OCI image: its root tree,
// built as for a bundle in a folder of its own, as one layer, and its
// main process as the image config.
func exportImage(ctx context.Context, s *spec.Spec, p *planner.Plan, name string, pf *planFlags, ios ioSet) error {
	b, err := oci.ExportImage(s, p, name)
	var refused oci.Refused
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	if uses := s.CallerProject(); len(uses) > 0 && pf.project == "" {
		// The image's name (REGISTRY/PROJECT/ENV) and its label
		// dev.nsup.project: neither can be left out, for whoever gets it.
		refused = append(oci.Refused{{Origin: s.Origin(s.NamePos), Key: "name",
			Msg: exportnote.Refusal(uses, "an image", fmt.Sprintf("the project in its label %s (and its name, unless --tag gives one) for whoever gets it: write the name in the spec, or give it to export (nsup export -p NAME)", labelProject))}}, refused...)
	}
	if len(refused) > 0 {
		return invalidError{fmt.Errorf("%w\nnsup: export: no image written", refused)}
	}
	e := s.Env(name)
	notes := b.Notes
	note := func(pos spec.Pos, key, msg string) {
		notes = append(notes, oci.Note{Origin: s.Origin(pos), Key: key, Msg: msg})
	}
	key := "environments." + name
	if e.Hostname != nil {
		note(e.Hostname.Pos, key+".hostname", fmt.Sprintf("not in the image (an image has no hostname): give it to the runtime, podman run --hostname %s (nsup export --kube writes it into the Pod)", e.Hostname.Value))
	}
	for i, m := range e.Mounts {
		note(m.Pos, fmt.Sprintf("%s.mounts[%d]", key, i), fmt.Sprintf("not in the image: its target %s is a folder of the layer; mount it with the runtime (podman run --mount, or nsup export --kube)", m.Target))
	}
	if len(e.Namespaces) > 0 || e.Security != nil || e.Limits != nil || len(e.Rlimits) > 0 {
		note(e.Pos, key, "namespaces, security, limits and rlimits are not in an image: the runtime sets its own (nsup export --oci keeps them in a bundle's config.json, --kube in a Pod)")
	}
	for _, n := range notes {
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", planner.Shown(n.String()))
	}
	project := pf.project
	if project == "" {
		project = s.Project()
	}
	ref := pf.tag
	if ref == "" {
		ref = imageRef(pf.registry, project, name)
	}
	created, err := image.Created()
	if err != nil {
		return err
	}
	c := b.Config
	cfg := image.ImageConfig{
		User:       fmt.Sprintf("%d:%d", c.Process.User.UID, c.Process.User.GID),
		Env:        c.Process.Env,
		Entrypoint: c.Process.Args,
		WorkingDir: c.Process.Cwd,
		Labels: map[string]string{
			image.AnnotationTitle: name,
			labelEnvironment:      name,
			labelProject:          project,
			labelSpec:             filepath.Base(s.File),
			labelSpecDigest:       s.Digest,
		},
	}
	if e.Net != nil {
		var ports []string
		for _, pt := range e.Net.Ports {
			for n := pt.From; n >= pt.From && n <= pt.To; n++ {
				ports = append(ports, fmt.Sprintf("%d/%s", n, pt.Proto))
				if n == 65535 {
					break
				}
			}
		}
		cfg.ExposedPorts = image.ExposedPorts(ports)
	}
	// The tree, as for a bundle, in a folder of its own beside the output.
	out := pf.image
	if out == "" {
		out = pf.imageTar
	}
	work, err := os.MkdirTemp(filepath.Dir(absOr(out)), ".nsup-image-")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer removeAll(work)
	if err := ownOutput("export's work folder", work); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	bundle := filepath.Join(work, "bundle")
	if err := writeBundle(ctx, bundle, b); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tree := filepath.Join(bundle, oci.RootfsDir)
	if left, err := envFileLeftOut(s, b.Rootfs, tree); err != nil {
		return fmt.Errorf("export: %w", err)
	} else if left != "" {
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", planner.Shown(fmt.Sprintf("%s: %s.rootfs: %s left out of the layer: it is the .env file the spec's variables came from, whose values an image, made to be shared, does not carry (nor its config: the variables are left out); give them when the container starts (podman run --env-file)", s.Origin(e.Rootfs.Pos), key, left)))
	}
	// Mount targets the tree lacks: a runtime mounts on folders the
	// image has (podman makes them too, Kubernetes' volumeMounts may not).
	if r, err := os.OpenRoot(tree); err == nil {
		for _, m := range e.Mounts {
			rel := strings.TrimPrefix(filepath.Clean(m.Target), "/")
			if _, err := r.Lstat(rel); err == nil || rel == "" {
				continue
			}
			if st, err := os.Stat(m.Source); m.Type == spec.MountBind && err == nil && !st.IsDir() {
				// A file bound on a file.
				r.MkdirAll(filepath.Dir(rel), 0o755)
				if f, err := r.OpenFile(rel, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					f.Close()
				}
				continue
			}
			r.MkdirAll(rel, 0o755)
		}
		r.Close()
	}
	if n := riskyFiles(tree); n != "" {
		// The layer's file names, as every name nsup shows (planner.Shown).
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", planner.Shown(fmt.Sprintf("%s: %s.rootfs: the layer holds %s: nsup runs the root nodev and with no_new_privileges, an image carries neither (a runtime honours them as it is told: podman run --security-opt no-new-privileges; device nodes of a layer open the host's devices where the runtime allows them)", s.Origin(e.Rootfs.Pos), key, n)))
	}
	owners := func(uid, gid int) (int, int) { return uid, gid }
	switch {
	case b.Rootfs.Type == "closure":
		owners = image.Squash // the host's files, root's inside
	case os.Geteuid() != 0:
		// Rootless: the copy is the user's, who is root inside.
		me, mg := os.Geteuid(), os.Getegid()
		owners = func(uid, gid int) (int, int) {
			if uid == me {
				uid = 0
			}
			if gid == mg {
				gid = 0
			}
			return uid, gid
		}
	}
	img := image.Image{Ref: ref, Tree: tree, Owners: owners, Config: cfg, Created: created, Architecture: runtime.GOARCH}
	layout := pf.image
	if pf.imageTar != "" {
		layout = filepath.Join(work, "layout")
		if err := os.Mkdir(layout, 0o700); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	} else if made, err := emptyDir(layout, "image layout"); err != nil {
		return fmt.Errorf("export: %w", err)
	} else if err := ownOutput("image layout", layout); err != nil {
		if made {
			os.Remove(layout)
		}
		return fmt.Errorf("export: %w", err)
	}
	desc, err := image.Write(layout, img)
	if err == nil {
		err = image.Check(layout)
	}
	if err != nil {
		if pf.image != "" {
			removeAll(layout)
		}
		return fmt.Errorf("export: %w", err)
	}
	if pf.imageTar != "" {
		f, err := os.CreateTemp(filepath.Dir(absOr(pf.imageTar)), ".nsup-archive-")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		err = image.Archive(f, layout, created)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), pf.imageTar)
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(ios.stderr, "nsup: exported %s to %s (manifest %s); load it with: podman load -i %s\n", name, pf.imageTar, desc.Digest, pf.imageTar)
		return nil
	}
	fmt.Fprintf(ios.stderr, "nsup: exported %s to %s (manifest %s); load it with: skopeo copy oci:%s containers-storage:%s\n", name, pf.image, desc.Digest, pf.image, ref)
	return nil
}

// emptyDir makes dir if it is missing (made), or checks that it is
// empty: export writes a new WHAT there.
func emptyDir(dir, what string) (made bool, err error) {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, os.Mkdir(dir, 0o755)
	case err != nil:
		return false, err
	case len(ents) > 0:
		return false, fmt.Errorf("%s exists and is not empty: export writes a new %s", dir, what)
	}
	return false, nil
}

// ownOutput refuses a folder export writes into (what: "bundle folder")
// unless it is the caller's alone (owndir.Check: of the caller's uid, no
// group or other may write to it, nor replace it or a folder above it).
// Export writes there by path, as root too: whoever else may rename in
// it could swap the bundle's rootfs, or a folder of the tree as it is
// removed, for a link to /etc between nsup's steps, and have nsup's
// files (/etc/hosts, /etc/passwd) written or its folders chmodded there
// (helper-82's review: an empty folder of another user's was taken).
func ownOutput(what, dir string) error {
	if err := owndir.Check(what, dir); err != nil {
		return fmt.Errorf("%w: export into a folder of your own", err)
	}
	return nil
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// riskyFiles names the setuid or setgid files and the device nodes of a
// tree (the first three of each kind, and how many), "" if it has none.
func riskyFiles(tree string) string {
	var setid, devs []string
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, tree), "/")
		switch m := info.Mode(); {
		case m&fs.ModeDevice != 0:
			devs = append(devs, rel)
		case m.IsRegular() && m&(fs.ModeSetuid|fs.ModeSetgid) != 0:
			setid = append(setid, rel)
		}
		return nil
	})
	list := func(what string, ps []string) string {
		if len(ps) == 0 {
			return ""
		}
		more := ""
		if len(ps) > 3 {
			more = fmt.Sprintf(" and %d more", len(ps)-3)
			ps = ps[:3]
		}
		return fmt.Sprintf("%s %s%s", what, strings.Join(ps, ", "), more)
	}
	var parts []string
	for _, x := range []string{list("setuid or setgid files", setid), list("device nodes", devs)} {
		if x != "" {
			parts = append(parts, x)
		}
	}
	return strings.Join(parts, "; ")
}

// envFileLeftOut removes from tree, a copy of dir root r, the .env file
// the spec's variables came from when r holds it (the project folder as
// the root), and returns its path ("" when r holds none): its values are
// left out of an image's config (oci's callerValues), and the file was
// in the layer (helper-142's review).
func envFileLeftOut(s *spec.Spec, r planner.Rootfs, tree string) (string, error) {
	if s.EnvFile == "" || r.Type != "dir" {
		return "", nil
	}
	root, err := filepath.EvalSymlinks(r.Path)
	if err != nil {
		return "", err
	}
	f, err := filepath.EvalSymlinks(s.EnvFile)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, f)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", nil
	}
	t, err := os.OpenRoot(tree)
	if err != nil {
		return "", err
	}
	defer t.Close()
	if err := t.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return s.EnvFile, nil
}
