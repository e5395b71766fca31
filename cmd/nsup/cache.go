package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"
)

const cacheHelp = `Manages nsup's cache of built rootfs trees (closure and tar; $NSUP_CACHE_DIR,
else /var/cache/nsup for root, else $XDG_CACHE_HOME/nsup).

  nsup cache ls             every tree: kind, digest, files, size, last use,
                            whether a running environment holds it, sources
  nsup cache prune SPEC...  remove every tree the SPEC files do not use
  nsup cache prune --older-than 720h [SPEC...]
                            remove the trees unused for that long (and not
                            used by the SPEC files)
  nsup cache prune --all    remove every tree

A tree a running environment is on is never removed. Leftovers of builds
that died are removed too.`

type cacheFlags struct {
	olderThan time.Duration
	all       bool
	dryRun    bool
	json      bool
}

func cacheFlagSet(fs *pflag.FlagSet, cf *cacheFlags) {
	fs.DurationVar(&cf.olderThan, "older-than", 0, "prune: only trees unused for at least `DURATION` (720h: 30 days)")
	fs.BoolVar(&cf.all, "all", false, "prune: every tree not in use")
	fs.BoolVar(&cf.dryRun, "dry-run", false, "prune: list what would be removed, remove nothing")
	fs.BoolVar(&cf.json, "json", false, "ls: print the entries as JSON")
}

func runCache(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("cache", args, ios)
	if err != nil {
		return helpOK(err)
	}
	cf := pf.cache
	dir := planner.DefaultCacheDir()
	if len(rest) == 0 {
		return usageError{"cache takes ls or prune"}
	}
	switch rest[0] {
	case "ls":
		if len(rest) > 1 || cf.all || cf.dryRun || cf.olderThan != 0 {
			return usageError{"cache ls takes no arguments and only --json"}
		}
		ents, err := store.ListCache(dir)
		if err != nil {
			return err
		}
		if cf.json {
			if ents == nil {
				ents = []store.CacheEntry{}
			}
			b, _ := json.MarshalIndent(ents, "", "  ")
			// Sources are paths a spec named: JSONSafe, as ps --json.
			_, err := ios.stdout.Write(append(lifecycle.JSONSafe(b), '\n'))
			return err
		}
		return printCache(ios, dir, ents)
	case "prune":
		specs := rest[1:]
		if cf.json {
			return usageError{"--json is for cache ls"}
		}
		if len(specs) == 0 && !cf.all && cf.olderThan == 0 {
			return usageError{"cache prune needs SPEC files whose trees to keep, --older-than DURATION, or --all"}
		}
		if cf.olderThan < 0 {
			// Every last use is older than a negative age: that would be --all.
			return usageError{fmt.Sprintf("--older-than must be a positive duration, got %v", cf.olderThan)}
		}
		if cf.all && len(specs) > 0 {
			return usageError{"cache prune --all keeps no SPEC's trees: give one or the other"}
		}
		keep := map[string]bool{}
		idx := planner.NewIndex(dir)
		for _, s := range specs {
			p, err := compile(s, nil, idx)
			if err != nil {
				return err
			}
			for _, e := range p.Environments {
				if r, ok := rootfsOf(e); ok && r.Type != "dir" {
					keep[r.Path] = true
					keep[idx.File(planner.IndexKey(r.Type, r.Sources))] = true
					if r.Type == "tar" {
						keep[idx.TarIDFile(r.Digest)] = true
					}
				}
			}
		}
		// A detached environment runs on its trees after its nsup has
		// gone (which held them while it ran): kept while it runs.
		detached, err := lifecycle.ListAll(planner.DefaultStateDir())
		if err != nil {
			return err
		}
		for _, e := range detached {
			if e.Running {
				for _, r := range e.State.Rootfs {
					keep[r] = true
				}
			}
		}
		gone, err := store.PruneCache(dir, store.PruneOptions{Keep: keep, OlderThan: cf.olderThan, DryRun: cf.dryRun})
		verb := "removed"
		if cf.dryRun {
			verb = "would remove"
		}
		var total int64
		for _, e := range gone {
			total += e.Bytes
			fmt.Fprintf(ios.stdout, "%s %s %s (%s, %s)\n", verb, e.Kind, e.Digest, size(e.Bytes), lifecycle.Printable(strings.Join(e.Sources, " ")))
		}
		fmt.Fprintf(ios.stdout, "%s %s, %s\n", verb, plural(len(gone), "tree"), size(total))
		return err
	}
	return usageError{fmt.Sprintf("cache: unknown subcommand %q (ls or prune)", rest[0])}
}

func printCache(ios ioSet, dir string, ents []store.CacheEntry) error {
	fmt.Fprintf(ios.stdout, "# %s: %s\n", dir, plural(len(ents), "tree"))
	if len(ents) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(ios.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tDIGEST\tFILES\tSIZE\tLAST USED\tIN USE\tSOURCES")
	for _, e := range ents {
		inUse := "-"
		if e.InUse {
			inUse = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.Kind, e.Digest[:len("sha256:")+16], e.Files, size(e.Bytes),
			e.Used.Local().Format("2006-01-02 15:04"), inUse, lifecycle.Printable(strings.Join(e.Sources, " ")))
	}
	return w.Flush()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
