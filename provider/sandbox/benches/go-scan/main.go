// Command go-scan is the stats bench's ceiling for Go: one pass over the dataset with the
// simplest per-byte loop a CSV reader needs (count fields and lines, sum the digits' integers),
// no calls, no maps, no floats. What it reaches as WASM against its native build bounds what
// any Go CSV program can reach with Go's WebAssembly backend under the sandbox's safeguards.
//
//	go-scan -data FILE -out DIR   writes DIR/scan.txt
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	data := flag.String("data", "", "the dataset")
	out := flag.String("out", "/out", "output folder")
	flag.Parse()
	f, err := os.Open(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-scan:", err)
		os.Exit(1)
	}
	buf := make([]byte, 1<<20)
	var fields, lines, value, sum uint64
	for {
		n, err := f.Read(buf)
		for _, b := range buf[:n] {
			switch {
			case b >= '0' && b <= '9':
				value = value*10 + uint64(b-'0')
			case b == ',':
				fields++
				sum += value
				value = 0
			case b == '\n':
				lines++
				sum += value
				value = 0
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-scan:", err)
			os.Exit(1)
		}
	}
	report := fmt.Sprintf("fields %d\nlines %d\nsum %d\n", fields+lines, lines, sum)
	if err := os.WriteFile(filepath.Join(*out, "scan.txt"), []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "go-scan:", err)
		os.Exit(1)
	}
}
