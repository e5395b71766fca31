// Package exportnote says what planner/oci's and planner/kube's exports
// say alike: a list of refused keys as one error, a line each, and the
// refusal of a value nsup's caller gave (a ${VAR} of the .env file or of
// nsup's environment) that an export made to be shared (an image, a
// manifest) would carry, in its main process's command, working folder
// or user. It imports nothing of nsup's but spec.
package exportnote

import (
	"fmt"
	"strings"

	"github.com/nsup/nsup/spec"
)

// Lines is the error of a list of refused keys: each note's String, a
// line each.
func Lines[N fmt.Stringer](notes []N) string {
	lines := make([]string, len(notes))
	for i, n := range notes {
		lines[i] = n.String()
	}
	return strings.Join(lines, "\n")
}

// Refusal is the refusal of a value that came from nsup's caller (uses),
// which what (an export: "an image", "a manifest"), made to be shared,
// would carry as carries says.
func Refusal(uses []spec.VarUse, what, carries string) string {
	return fmt.Sprintf("refused: its value came from nsup's caller (%s), and %s, made to be shared, carries %s", spec.UsesFrom(uses), what, carries)
}

// Words are how an export names itself in CallerArg's refusals.
type Words struct {
	// What is the export, with its article ("an image").
	What string
	// Reader is who reads it ("whoever gets it").
	Reader string
	// Command is the way out for a value in the command, after "its
	// command for READER: ", a format whose %[1]s is the name of the
	// value's first variable.
	Command string
	// User is what the user's ids are to the export, whole.
	User string
}

// CallerArg is the refusal of a, a value of nsup's caller in the main
// process's command, working folder or user (spec.CallerArgs): the
// export would write it as it is, and it cannot be left out.
func CallerArg(a spec.CallerArg, w Words) string {
	carries := "its command for " + w.Reader + ": " + fmt.Sprintf(w.Command, a.Uses[0].Name)
	switch {
	case a.Cwd:
		carries = "its working folder for " + w.Reader + ": write the folder's path"
	case a.User:
		carries = w.User
	}
	return Refusal(a.Uses, w.What, carries)
}
