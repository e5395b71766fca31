// Package schema holds the JSON Schema of spec v1 (nsup.schema.json, draft
// 2020-12), for editors: a YAML file whose first line is
//
//	# yaml-language-server: $schema=../schema/nsup.schema.json
//
// gets completion, hover documentation and structural checks. The schema is
// a convenience, not the authority: package spec is the validator nsup runs,
// and it also checks what the schema can not express (references between
// environments, cycles, unique process names, value ranges). The tests of
// this package keep the schema, the examples and the spec's invalid corpus
// in agreement.
package schema
