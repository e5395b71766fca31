package planner

import "github.com/nsup/nsup/spec"

// Errors is what Compile found wrong with a spec on this host (a missing
// bind source, a command not in the rootfs): spec errors like the
// parser's, FILE:LINE:COL: field: message, one per line, sorted.
type Errors = spec.Errors
