// Package godev is the module examples/godev.yaml tests inside a sandbox
// that binds the host's Go toolchain.
package godev

// Greet says hello to name.
func Greet(name string) string { return "hello, " + name }
