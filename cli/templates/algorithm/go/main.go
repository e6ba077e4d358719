// Command {{name}} is an Agora algorithm: a WASI preview 1 module, built with
//
//	GOOS=wasip1 GOARCH=wasm go build -o {{name}}.wasm .
//
// and run by a compute provider's sandbox over one dataset. It reads the only file in /data
// and writes /out/summary.json: the file's name, its size in bytes and its rows (lines; for a
// CSV or TSV, the records after the header row), and for a CSV or TSV each column's count of
// numeric values and their mean. The job's args name the columns to report (default: all).
//
// Outside the sandbox, DATA_DIR and OUT_DIR stand in for /data and /out:
//
//	mkdir -p in out && cp rows.csv in/ && DATA_DIR=in OUT_DIR=out go run . height weight
package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Summary is what the algorithm writes to /out/summary.json.
type Summary struct {
	File    string   `json:"file"`
	Bytes   int64    `json:"bytes"`
	Rows    int64    `json:"rows"`
	Columns []Column `json:"columns"`
}

// Column is one CSV column's numeric summary.
type Column struct {
	Name    string `json:"name"`
	Numeric int64  `json:"numeric"`
	// Mean is null when the column holds no numbers.
	Mean *float64 `json:"mean"`

	index int
	sum   float64
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "{{name}}:", err)
		os.Exit(1)
	}
}

func run(columns []string) error {
	data, err := onlyFile(dirFromEnv("DATA_DIR", "/data"))
	if err != nil {
		return err
	}
	f, err := os.Open(data)
	if err != nil {
		return err
	}
	defer f.Close()
	in := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	summary := Summary{File: filepath.Base(data), Columns: []Column{}}
	switch strings.ToLower(filepath.Ext(data)) {
	case ".csv":
		err = summarizeTable(in, ',', columns, &summary)
	case ".tsv":
		err = summarizeTable(in, '\t', columns, &summary)
	default:
		if len(columns) > 0 {
			return fmt.Errorf("%s is not a CSV or TSV file, so it has no columns to choose", summary.File)
		}
		summary.Rows, err = countLines(in)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", summary.File, err)
	}
	summary.Bytes = in.n
	out, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return err
	}
	// Outputs are regular files directly in /out; the provider hashes and returns them.
	return os.WriteFile(filepath.Join(dirFromEnv("OUT_DIR", "/out"), "summary.json"), append(out, '\n'), 0o644)
}

// summarizeTable reads a header row, then counts records and sums each chosen column's numbers.
func summarizeTable(in io.Reader, comma rune, names []string, summary *Summary) error {
	r := csv.NewReader(in)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return errors.New("no header row")
	}
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i, name := range header {
		if _, seen := index[name]; !seen {
			index[name] = i
		}
	}
	if len(names) == 0 {
		names = header
	}
	columns := make([]Column, 0, len(names))
	for _, name := range names {
		i, ok := index[name]
		if !ok {
			return fmt.Errorf("no column named %q (the header has %s)", name, strings.Join(header, ", "))
		}
		columns = append(columns, Column{Name: name, index: i})
	}
	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		summary.Rows++
		for c := range columns {
			col := &columns[c]
			if col.index >= len(record) {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(record[col.index]), 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				continue
			}
			col.Numeric++
			col.sum += v
		}
	}
	for c := range columns {
		col := &columns[c]
		if mean := col.sum / float64(col.Numeric); col.Numeric > 0 && !math.IsInf(mean, 0) && !math.IsNaN(mean) {
			col.Mean = &mean
		}
	}
	summary.Columns = columns
	return nil
}

// countLines counts lines, a last one without a newline included.
func countLines(in io.Reader) (int64, error) {
	var lines int64
	buf := make([]byte, 1<<16)
	last := byte('\n')
	for {
		n, err := in.Read(buf)
		if n > 0 {
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, nil
}

// onlyFile is the one file in dir: the sandbox mounts the dataset alone in /data.
func onlyFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) != 1 {
		return "", fmt.Errorf("%s holds %d files; want exactly one dataset", dir, len(files))
	}
	return files[0], nil
}

func dirFromEnv(name, fallback string) string {
	if dir := os.Getenv(name); dir != "" {
		return dir
	}
	return fallback
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
