package server

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// A process may have up to 65536 supplementary groups: the Groups line of
// its status file is then far longer than a default bufio.Scanner token.
func TestParseStatusGroupsLongLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Name:\tsh\nGroups:\t")
	want := make([]int, 0, 65536)
	for g := 100000; g < 100000+65536; g++ {
		fmt.Fprintf(&b, "%d ", g)
		want = append(want, g)
	}
	b.WriteString("\nNgid:\t0\n")
	if got := ParseStatusGroups(b.Bytes()); !slices.Equal(got, want) {
		t.Fatalf("ParseStatusGroups of %d groups returned %d", len(want), len(got))
	}
}

// FuzzParseStatusGroups: /proc/<pid>/status is read for every connection;
// parsing it never panics and never yields a negative gid.
func FuzzParseStatusGroups(f *testing.F) {
	for _, s := range []string{
		"Name:\tsh\nGroups:\t4 24 27 990 \nNgid:\t0\n", "Groups:\t\n", "", "Groups:", "Groups:\t1 x -3 2",
		"Groups:\t99999999999999999999\n", "Groups:\r\n1 2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, g := range ParseStatusGroups(data) {
			if g < 0 {
				t.Fatalf("ParseStatusGroups(%q) returned gid %d", data, g)
			}
		}
	})
}
