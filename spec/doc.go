// Package spec parses and validates nsup files (spec-v1.md): the first part
// of spec → plan → apply. It keeps every value's line and column, reports
// every error at once as FILE:LINE:COL: field.path: message, and touches no
// host state beyond reading the file it is given (a regular file only,
// through internal/regfile, the one package of nsup's it imports).
package spec
