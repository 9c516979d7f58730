// Package ulvs is the root of the ulvs module, Linux Virtual Server in user
// space. It holds no code: the packages below it do the work (see
// ARCHITECTURE.md for the map), and the tests here check the repository as
// a whole (deps_test.go: who may import whom).
package ulvs
