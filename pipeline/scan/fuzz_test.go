package scan

import (
	"testing"
)

// FuzzScan runs the scanner on arbitrary bytes as one Python file, pkg/__init__.py of a
// small tree (so that __name__ and __package__ resolve and patterns have modules to
// match). Whatever the bytes, the scan must return (no panic, no stack overflow), soon
// (scanHostile's limit), and with a result that holds together (checkInvariants).
//
// The seed corpus in testdata/fuzz/FuzzScan, run by every plain go test, holds ordinary
// code and small versions of the hostile shapes of hostile_test.go; inputs the fuzzer
// found failing are added there as they were found.
func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		scanHostile(t, string(src), hostileLimit)
	})
}
