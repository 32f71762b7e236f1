// Test vectors for the LZW decoder (Tests/WirecheckTests/MemberlistTests.swift):
// Go's own compress/lzw writer on the inputs the tests regenerate. Run with
// Debian's golang-go: GO111MODULE=off go run scripts/lzw-vectors.go
package main

import (
	"bytes"
	"compress/lzw"
	"fmt"
)

var words = []string{"alertmanager", "member", "10.111.1.122", "Incarnation", "State", "push", "pull", "node", "gossip", "a", "of", "the", "silences", "nflog"}

func text(n int) []byte {
	var x uint64 = 1
	var b bytes.Buffer
	for b.Len() < n {
		x = x*6364136223846793005 + 1442695040888963407
		b.WriteString(words[(x>>33)%uint64(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	var x uint64 = 7
	out := make([]byte, n)
	for i := range out {
		x = x*6364136223846793005 + 1442695040888963407
		out[i] = byte(x >> 56)
	}
	return out
}

func fnv(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func main() {
	for _, in := range []struct {
		name string
		data []byte
	}{{"text-100", text(100)}, {"text-20000", text(20000)}, {"text-200000", text(200000)}, {"random-50000", random(50000)}} {
		var out bytes.Buffer
		w := lzw.NewWriter(&out, lzw.LSB, 8)
		w.Write(in.data)
		w.Close()
		fmt.Printf("%s input %d fnv %#x output %d fnv %#x head %x\n", in.name, len(in.data), fnv(in.data), out.Len(), fnv(out.Bytes()), out.Bytes()[:8])
	}
}
