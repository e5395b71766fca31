// Command interleave times commands in turn, one run of each per round,
// so that a machine that speeds up or slows down over the runs (as this
// 2-core VM does) moves every command alike: ratios between them hold
// better than between commands timed one after the other (hyperfine
// times all runs of one, then all of the next).
//
//	interleave [-n RUNS] [-w WARMUP] NAME -- CMD ARGS... [-- NAME -- CMD ...]
//
// Each command is NAME, "--", its argv, and "---" before the next one.
// Prints, per command, the median wall time in ms and its ratio to the
// first's, computed from the runs of the same rounds.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

type command struct {
	name string
	argv []string
	ms   []float64
}

func main() {
	n := flag.Int("n", 200, "timed rounds")
	warm := flag.Int("w", 10, "rounds before them, not timed")
	flag.Parse()
	var cmds []*command
	for _, part := range split(flag.Args(), "---") {
		if len(part) < 3 || part[1] != "--" {
			fmt.Fprintln(os.Stderr, "interleave: each command is NAME -- CMD ARGS..., separated by ---")
			os.Exit(2)
		}
		cmds = append(cmds, &command{name: part[0], argv: part[2:]})
	}
	if len(cmds) == 0 {
		fmt.Fprintln(os.Stderr, "interleave: no command")
		os.Exit(2)
	}
	for round := 0; round < *warm+*n; round++ {
		for _, c := range cmds {
			start := time.Now()
			cmd := exec.Command(c.argv[0], c.argv[1:]...)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "interleave: %s: %v\n%s", c.name, err, out)
				os.Exit(1)
			}
			if round >= *warm {
				c.ms = append(c.ms, float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	first := median(cmds[0].ms)
	for _, c := range cmds {
		m := median(c.ms)
		fmt.Printf("%s\t%.2f\t%.2f\n", c.name, m, m/first)
	}
}

func split(args []string, sep string) [][]string {
	var out [][]string
	cur := []string{}
	for _, a := range args {
		if a == sep {
			out = append(out, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	return append(out, cur)
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
