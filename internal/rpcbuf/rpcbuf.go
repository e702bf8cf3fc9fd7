// Package rpcbuf gives gRPC connections on the local socket a buffer pool
// that does not zero its buffers, and a proto codec that marshals into and
// materializes messages from that pool.
//
// gRPC's default pool clears every buffer it hands out, over the buffer's
// whole capacity (1 MiB for any message above 32 KiB), and its proto codec
// always uses that default pool. For a stream of 256 KiB log entries that
// was a memclr of four times the payload in the apiserver and again in the
// CLI. Every buffer gRPC takes from a pool is fully written before it is
// read (a frame payload, a marshaled message, a copied message), so zeroing
// buys nothing.
//
// It does not change the wire format: the codec is named "proto" and
// encodes exactly as gRPC's own.
package rpcbuf

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Pool tiers are powers of two from 2^minShift to 2^maxShift bytes; larger
// buffers are allocated and left to the garbage collector.
const (
	minShift = 8
	maxShift = 22
)

// Pool is a mem.BufferPool of power-of-two tiers whose buffers are not
// zeroed. It is safe for concurrent use.
type Pool struct {
	tiers [maxShift - minShift + 1]sync.Pool
}

var pool = &Pool{}

// Get returns a buffer of length n; its contents are unspecified.
func (p *Pool) Get(n int) *[]byte {
	shift := max(bits.Len(uint(max(n, 1)-1)), minShift)
	if shift > maxShift {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[shift-minShift].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<shift)
	return &b
}

// Put returns a buffer obtained from Get.
func (p *Pool) Put(b *[]byte) {
	c := cap(*b)
	shift := bits.Len(uint(c)) - 1
	if c == 0 || c != 1<<shift || shift < minShift || shift > maxShift {
		return
	}
	p.tiers[shift-minShift].Put(b)
}

// ServerOptions makes a server read messages into the pool and marshal
// with the pooled codec.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{experimental.BufferPool(pool), grpc.ForceServerCodecV2(Codec{})}
}

// DialOptions does the same for a client connection.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		experimental.WithBufferPool(pool),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(Codec{})),
	}
}

// Codec is gRPC's proto codec with its buffers taken from the pool.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name is "proto", so peers see the usual content type.
func (Codec) Name() string { return "proto" }

// Marshal encodes v into one pooled buffer.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a proto message", v)
	}
	size := proto.Size(m)
	opts := proto.MarshalOptions{UseCachedSize: true} // Size just ran
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := pool.Get(size)
	if _, err := opts.MarshalAppend((*buf)[:0], m); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data (gathered into one pooled buffer when it came in
// several frames) into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal %T: not a proto message", v)
	}
	buf := data.MaterializeToBuffer(pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}
