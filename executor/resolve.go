package executor

import "github.com/nsup/nsup/executor/store"

// The child stage resolves paths inside the environment's root (mount
// sources and targets, the overlay's lower layer) with the functions the
// store builds closure trees with (executor/store/resolve.go): one
// implementation of openat2(2) RESOLVE_IN_ROOT for both.

func openRoot(dir string) (int, error) { return store.OpenRoot(dir) }

func openInRoot(rootfd int, p, create string) (int, error) {
	return store.OpenInRoot(rootfd, p, create)
}

func openDirInRoot(rootfd int, p, create string) (int, error) {
	return store.OpenDirInRoot(rootfd, p, create)
}

func fdPath(fd int) string { return store.FdPath(fd) }
