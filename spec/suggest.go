package spec

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxSuggestLen bounds the words compared: the cost of a distance is the
// product of the lengths, and no valid key or value is anywhere near as long.
const maxSuggestLen = 32

// suggest returns the candidate nearest to word, or "" when none is near
// enough to be a likely typo. Near enough is a distance of at most 1 for
// candidates of 3 letters or fewer (pid, uts, dir, env: with 2 edits any
// 3-letter word would match one of them) and at most 2 otherwise. Case is
// ignored, so "Hostname" suggests "hostname". Ties go to the first
// candidate, which keeps messages deterministic.
func suggest(word string, candidates []string) string {
	if utf8.RuneCountInString(word) > maxSuggestLen {
		return ""
	}
	w := strings.ToLower(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		limit := 2
		if len(c) <= 3 {
			limit = 1
		}
		d := distance(w, c)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// Suggest returns the candidate nearest to word, or "" when none is near
// enough to be a likely typo, as the spec's "did you mean" messages choose
// it: for the command line's (an environment name given to nsup down).
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }

// distance is the optimal string alignment distance between a and b: the
// Levenshtein distance (insertions, deletions, substitutions) where swapping
// two adjacent letters also counts as one edit, the commonest typo
// ("hsotname").
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// d[i][j] is the distance between s[:i] and t[:j]; three rows suffice.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}

// These bound the work and the length of unknownMsg when the valid words
// come from the file (environment names): thousands of unknown references
// to thousands of environments must not cost millions of distances.
const (
	maxSuggestCandidates = 100
	maxListed            = 20
)

// unknownMsg is the message for a word that is not among valid: with the
// nearest valid word when there is one, or else the list of valid words
// when it is short. what names the word ("key", "namespace type").
func unknownMsg(what, word string, valid []string) string {
	if len(valid) <= maxSuggestCandidates {
		if s := suggest(word, valid); s != "" {
			return fmt.Sprintf("unknown %s %s (did you mean %q?)", what, quote(word), s)
		}
	}
	if len(valid) == 0 || len(valid) > maxListed {
		return fmt.Sprintf("unknown %s %s", what, quote(word))
	}
	return fmt.Sprintf("unknown %s %s; valid: %s", what, quote(word), strings.Join(valid, ", "))
}
