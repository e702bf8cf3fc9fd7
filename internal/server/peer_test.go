package server

import (
	"slices"
	"testing"
)

func TestPeerPolicyAllowed(t *testing.T) {
	withGroup := PeerPolicy{OwnUID: 1000, GroupGID: 990, GroupName: "container"}
	noGroup := PeerPolicy{OwnUID: 1000, GroupGID: -1, GroupName: "container"}
	for _, tc := range []struct {
		name   string
		policy PeerPolicy
		cred   PeerCred
		want   bool
	}{
		{name: "root", policy: noGroup, cred: PeerCred{UID: 0, GID: 0}, want: true},
		{name: "own uid", policy: noGroup, cred: PeerCred{UID: 1000, GID: 1000}, want: true},
		{name: "stranger without group", policy: noGroup, cred: PeerCred{UID: 65534, GID: 65534}, want: false},
		{name: "stranger claiming gid -1", policy: noGroup, cred: PeerCred{UID: 65534, GID: 65534, Groups: []int{-1}}, want: false},
		{name: "primary group", policy: withGroup, cred: PeerCred{UID: 2000, GID: 990}, want: true},
		{name: "supplementary group", policy: withGroup, cred: PeerCred{UID: 2000, GID: 2000, Groups: []int{4, 990}}, want: true},
		{name: "other groups", policy: withGroup, cred: PeerCred{UID: 2000, GID: 2000, Groups: []int{4, 27}}, want: false},
		{name: "nobody", policy: withGroup, cred: PeerCred{UID: 65534, GID: 65534}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.Allowed(tc.cred); got != tc.want {
				t.Errorf("%+v.Allowed(%+v) = %v, want %v", tc.policy, tc.cred, got, tc.want)
			}
		})
	}
}

func TestParseStatusGroups(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []int
	}{
		{name: "several", in: "Name:\tsh\nUid:\t0\t0\t0\t0\nGroups:\t4 24 27 990 \nNgid:\t0\n", want: []int{4, 24, 27, 990}},
		{name: "none", in: "Name:\tsh\nGroups:\t\nNgid:\t0\n", want: nil},
		{name: "missing line", in: "Name:\tsh\n", want: nil},
		{name: "garbage skipped", in: "Groups:\t1 x -3 2\n", want: []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseStatusGroups([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("ParseStatusGroups = %v, want %v", got, tc.want)
			}
		})
	}
}
