package main

import (
	"fmt"
	"strings"
)

// lineDiff lists the lines that differ between a and b, "- " for a's and
// "+ " for b's, in order (a longest-common-subsequence diff), at most max
// of them. It serves one message (a saved plan that no longer matches),
// so it favours plainness over speed; past a size it reports the first
// differing line only.
func lineDiff(a, b string, max int) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Trim the common head and tail: plans differ in a few lines.
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	x, y = x[head:len(x)-tail], y[head:len(y)-tail]
	var out []string
	if len(x)*len(y) > 4_000_000 {
		out = append(out, fmt.Sprintf("line %d differs:", head+1))
		if len(x) > 0 {
			out = append(out, "- "+x[0])
		}
		if len(y) > 0 {
			out = append(out, "+ "+y[0])
		}
		return strings.Join(out, "\n")
	}
	// lcs[i][j]: length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max2(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for (i < len(x) || j < len(y)) && len(out) < max {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+x[i])
			i++
		default:
			out = append(out, "+ "+y[j])
			j++
		}
	}
	if i < len(x) || j < len(y) {
		out = append(out, "…")
	}
	return strings.Join(out, "\n")
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
