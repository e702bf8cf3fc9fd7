package rpcbuf

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestPoolSizes(t *testing.T) {
	p := &Pool{}
	for _, n := range []int{0, 1, 255, 256, 257, 4096, 256<<10 + 40, 1 << 22, 1<<22 + 1} {
		b := p.Get(n)
		if len(*b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*b))
		}
		p.Put(b)
		again := p.Get(n)
		if len(*again) != n {
			t.Fatalf("Get(%d) after Put has length %d", n, len(*again))
		}
	}
	p.Put(&[]byte{}) // foreign or empty buffers are dropped, not panicked on
	odd := make([]byte, 3000)
	p.Put(&odd)
}

func TestCodecRoundTrip(t *testing.T) {
	for _, n := range []int{0, 10, 2 << 10, 300 << 10, 5 << 20} {
		in := wrapperspb.Bytes(bytes.Repeat([]byte{'x'}, n))
		data, err := Codec{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := proto.Marshal(in)
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: marshal differs from proto.Marshal", n)
		}
		// As received: split into 16 KiB frames.
		var frames mem.BufferSlice
		for b := want; len(b) > 0; {
			k := min(len(b), 16<<10)
			frames = append(frames, mem.SliceBuffer(bytes.Clone(b[:k])))
			b = b[k:]
		}
		data.Free()
		out := &wrapperspb.BytesValue{}
		if err := (Codec{}).Unmarshal(frames, out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.GetValue(), in.GetValue()) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
	}
	if _, err := (Codec{}).Marshal("not a message"); err == nil {
		t.Fatal("Marshal of a string succeeded")
	}
}
