package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/berth/container/errdefs"
)

// PeerPolicy decides which local users may call the apiserver: root, the
// daemon's own uid, and members of one group (by primary or supplementary
// gid).
type PeerPolicy struct {
	// OwnUID is the daemon's effective uid.
	OwnUID int
	// GroupGID is the gid of the group whose members are admitted, or -1
	// when that group does not exist.
	GroupGID int
	// GroupName names the group in error messages.
	GroupName string
}

// PeerCred is what the kernel reports about the process at the other end
// of a unix socket, plus its supplementary groups.
type PeerCred struct {
	PID    int
	UID    int
	GID    int
	Groups []int
}

// Allowed reports whether cred may call the apiserver.
func (p PeerPolicy) Allowed(cred PeerCred) bool {
	switch {
	case cred.UID == 0, cred.UID == p.OwnUID:
		return true
	case p.GroupGID < 0:
		return false
	case cred.GID == p.GroupGID:
		return true
	}
	return slices.Contains(cred.Groups, p.GroupGID)
}

// PeerInfo is the credentials.AuthInfo attached to every connection by
// PeerCredentials. Allowed is decided once, at accept.
type PeerInfo struct {
	credentials.CommonAuthInfo
	Cred    PeerCred
	Allowed bool
	Reason  string // why a peer was refused
}

// AuthType implements credentials.AuthInfo.
func (PeerInfo) AuthType() string { return "peercred" }

// PeerCredentials is a server-side credentials.TransportCredentials that
// reads SO_PEERCRED on every accepted unix connection and records the
// verdict of the policy in the connection's AuthInfo. It never refuses the
// connection itself (a refused handshake would leave the client retrying);
// PeerUnary and PeerStream refuse every call of a peer that is not allowed.
type PeerCredentials struct {
	Policy PeerPolicy
}

var _ credentials.TransportCredentials = (*PeerCredentials)(nil)

// ServerHandshake reads the peer's credentials.
func (c *PeerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	info := PeerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}
	cred, err := peerCred(conn)
	if err != nil {
		info.Reason = fmt.Sprintf("read peer credentials: %v", err)
		return conn, info, nil
	}
	info.Cred = cred
	info.Allowed = c.Policy.Allowed(cred)
	if !info.Allowed {
		if c.Policy.GroupGID >= 0 {
			info.Reason = fmt.Sprintf("uid %d is not root and not a member of group %q", cred.UID, c.Policy.GroupName)
		} else {
			info.Reason = fmt.Sprintf("uid %d is not root (group %q does not exist)", cred.UID, c.Policy.GroupName)
		}
	}
	return conn, info, nil
}

// ClientHandshake is not used: these credentials are for the server.
func (c *PeerCredentials) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, PeerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

// Info implements credentials.TransportCredentials.
func (c *PeerCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

// Clone implements credentials.TransportCredentials.
func (c *PeerCredentials) Clone() credentials.TransportCredentials {
	return &PeerCredentials{Policy: c.Policy}
}

// OverrideServerName implements credentials.TransportCredentials.
func (c *PeerCredentials) OverrideServerName(string) error { return nil }

// PeerUnary refuses calls from peers that PeerCredentials did not admit.
func PeerUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := checkPeer(ctx); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// PeerStream is PeerUnary for streams.
func PeerStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := checkPeer(ss.Context()); err != nil {
		return err
	}
	return handler(srv, ss)
}

func checkPeer(ctx context.Context) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return fmt.Errorf("apiserver: unknown peer: %w", errdefs.ErrPermissionDenied)
	}
	info, ok := p.AuthInfo.(PeerInfo)
	if !ok {
		// A server built without PeerCredentials (tests, in-process use)
		// has no peer to check.
		return nil
	}
	if !info.Allowed {
		return fmt.Errorf("apiserver refused the call: %s: %w", info.Reason, errdefs.ErrPermissionDenied)
	}
	return nil
}

// peerCred reads SO_PEERCRED of a unix connection and the peer process's
// supplementary groups.
func peerCred(conn net.Conn) (PeerCred, error) {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return PeerCred{}, fmt.Errorf("connection %T is not a unix socket", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var ucred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		ucred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, err
	}
	if serr != nil {
		return PeerCred{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", serr)
	}
	cred := PeerCred{PID: int(ucred.Pid), UID: int(ucred.Uid), GID: int(ucred.Gid)}
	if cred.PID > 0 {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.PID)); err == nil {
			cred.Groups = ParseStatusGroups(data)
		}
	}
	return cred, nil
}

// ParseStatusGroups returns the gids of the "Groups:" line of a
// /proc/<pid>/status file.
// The line can be far longer than a bufio.Scanner token (a process may
// have up to 65536 groups), so the lines are split by hand.
func ParseStatusGroups(status []byte) []int {
	for line := range bytes.Lines(status) {
		rest, ok := strings.CutPrefix(string(line), "Groups:")
		if !ok {
			continue
		}
		var gids []int
		for _, f := range strings.Fields(rest) {
			if g, err := strconv.Atoi(f); err == nil && g >= 0 {
				gids = append(gids, g)
			}
		}
		return gids
	}
	return nil
}
