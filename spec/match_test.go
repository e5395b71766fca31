package spec

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// The plain-function matchers agree with the patterns they stand for, on
// hand-picked and random strings.
func TestMatchersAgreeWithPatterns(t *testing.T) {
	env := regexp.MustCompile(envNamePattern)
	size := regexp.MustCompile(`^([0-9]+)([kKmMgGtT]?)$`)
	mode := regexp.MustCompile(`^[0-7]{3,4}$`)
	user := regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)
	key := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	cases := []string{"", "a", "-", "a-", "-a", "a-b", "web", "Web", "a_b", "0", "00", "1:2", "1:", ":1", "1:2:3",
		"16M", "16m", "1G", "0", "12x", "M", "755", "1777", "0755", "17777", "778", "8", "a b", "é",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"}
	r := rand.New(rand.NewSource(1))
	const alphabet = "ab-_:09MkgT7 é"
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(8))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := isEnvName(s), env.MatchString(s); got != want {
			t.Errorf("isEnvName(%q) = %v, pattern says %v", s, got, want)
		}
		if _, msg := parseSize(s); (msg == "" || !containsAny(msg, "invalid size")) != size.MatchString(s) {
			t.Errorf("parseSize(%q): %q, pattern says %v", s, msg, size.MatchString(s))
		}
		if got, want := modeMsg(s) == "", mode.MatchString(s); got != want {
			t.Errorf("modeMsg(%q) ok = %v, pattern says %v", s, got, want)
		}
		if _, msg := parseUser(s); (msg == "" || !containsAny(msg, "numeric ids")) != user.MatchString(s) {
			t.Errorf("parseUser(%q): %q, pattern says %v", s, msg, user.MatchString(s))
		}
		if got, want := simpleKey(s), key.MatchString(s); got != want {
			t.Errorf("simpleKey(%q) = %v, pattern says %v", s, got, want)
		}
	}
}

func containsAny(s, sub string) bool { return strings.Contains(s, sub) }
