// Command stats computes per-column statistics over a dataset and writes them to
// /out/stats.json. It is an Agora algorithm: built with `GOOS=wasip1 GOARCH=wasm`, it runs in
// the provider's sandbox, which mounts the dataset as the only file in /data.
//
// The dataset is CSV with a header row (.csv, .tsv with a tab; RFC 4180 quoting) or JSON
// Lines of flat objects (.jsonl, .ndjson); it is streamed, so its size does not matter. For
// every column it reports the row count, missing values (empty cells, null or absent keys),
// and for the values that parse as finite numbers their count, min, max, mean and sample
// standard deviation (Welford). For columns with non-numeric values it also reports how many
// distinct non-numeric values there are (counted up to -distinct-cap) and the -top most
// frequent of them: for a text column, its values; for a numeric column with a few "n/a",
// those.
//
// Flags:
//
//	-columns a,b      only these columns, in this order
//	-top N            how many frequent non-numeric values to list (default 5)
//	-distinct-cap N   most distinct non-numeric values tracked per column (default 10000)
//	-data PATH        the dataset (default: the only file in /data)
//	-out DIR          where stats.json goes (default /out)
//
// The output depends only on the input bytes and the flags: keys in a fixed order, columns
// in file order, ties among frequent values broken by value.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stats:", err)
		os.Exit(1)
	}
}

type options struct {
	columns     []string
	top         int
	distinctCap int
	data        string
	out         string
}

func parseArgs(args []string) (options, error) {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	columns := fs.String("columns", "", "comma-separated columns to report, in this order (default: all)")
	top := fs.Int("top", 5, "how many frequent values to list for non-numeric columns")
	distinctCap := fs.Int("distinct-cap", 10000, "most distinct values tracked per column")
	data := fs.String("data", "", "the dataset (default: the only file in /data)")
	out := fs.String("out", "/out", "output folder")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *top < 0 || *distinctCap < 1 {
		return options{}, errors.New("-top must be >= 0 and -distinct-cap >= 1")
	}
	o := options{top: *top, distinctCap: *distinctCap, data: *data, out: *out}
	if *columns != "" {
		for _, c := range strings.Split(*columns, ",") {
			o.columns = append(o.columns, strings.TrimSpace(c))
		}
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.data == "" {
		if o.data, err = onlyFile("/data"); err != nil {
			return err
		}
	}
	f, err := os.Open(o.data)
	if err != nil {
		return err
	}
	defer f.Close()
	in := bufio.NewReaderSize(f, 1<<20)

	t := newTable(o.distinctCap)
	format := strings.ToLower(filepath.Ext(o.data))
	switch format {
	case ".csv":
		err = readCSV(in, ',', t)
	case ".tsv":
		err = readCSV(in, '\t', t)
	case ".jsonl", ".ndjson":
		err = readJSONL(in, t)
	default:
		return fmt.Errorf("%s: unknown format %q (want .csv, .tsv, .jsonl or .ndjson)", filepath.Base(o.data), format)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(o.data), err)
	}
	report, err := t.report(filepath.Base(o.data), strings.TrimPrefix(format, "."), o)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.out, "stats.json"), append(body, '\n'), 0o644)
}

// onlyFile returns the path of the single regular file in dir.
func onlyFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, e.Name())
		}
	}
	if len(files) != 1 {
		return "", fmt.Errorf("%s holds %d files; want exactly one dataset (or pass -data)", dir, len(files))
	}
	return filepath.Join(dir, files[0]), nil
}

func readCSV(in *bufio.Reader, comma byte, t *table) error {
	r := &csvReader{in: in, comma: comma}
	header, err := r.read()
	if err == io.EOF {
		return errors.New("empty file: no header row")
	}
	if err != nil {
		return err
	}
	cols := make([]*column, len(header))
	for i, name := range header {
		cols[i] = t.column(string(name))
	}
	for {
		rec, err := r.read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec) != len(cols) {
			return fmt.Errorf("line %d has %d fields, the header has %d", r.line, len(rec), len(cols))
		}
		t.rows++
		for i, v := range rec {
			cols[i].add(v)
		}
	}
}

// csvReader splits RFC 4180 records. Fields are slices of its buffers, valid until the next
// read: most lines are split in place, without copying or allocating.
type csvReader struct {
	in     *bufio.Reader
	comma  byte
	line   int // the line the last record ended on
	fields [][]byte
	long   []byte // a line longer than the reader's buffer
	quoted []byte // the unquoted contents of a record with quotes
	ends   []int
}

// read returns the next non-empty record, or io.EOF.
func (r *csvReader) read() ([][]byte, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(trimEOL(line)) == 0 {
			continue
		}
		if bytes.IndexByte(line, '"') >= 0 {
			return r.readQuoted(line)
		}
		line = trimEOL(line)
		r.fields = r.fields[:0]
		for {
			i := bytes.IndexByte(line, r.comma)
			if i < 0 {
				r.fields = append(r.fields, line)
				return r.fields, nil
			}
			r.fields = append(r.fields, line[:i])
			line = line[i+1:]
		}
	}
}

// readLine returns the next line with its newline, or io.EOF once there is none.
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.in.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.in.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	r.line++
	return line, nil
}

// readQuoted parses a record with quotes, which may go on over the following lines.
func (r *csvReader) readQuoted(line []byte) ([][]byte, error) {
	r.quoted, r.ends = r.quoted[:0], r.ends[:0]
	start := r.line
	inQuotes, fieldStart := false, true
	for {
		for i := 0; i < len(line); i++ {
			b := line[i]
			switch {
			case inQuotes && b == '"' && i+1 < len(line) && line[i+1] == '"':
				r.quoted = append(r.quoted, '"')
				i++
			case inQuotes && b == '"':
				inQuotes = false
			case inQuotes:
				r.quoted = append(r.quoted, b)
			case b == '"' && fieldStart:
				inQuotes = true
			case b == r.comma:
				r.ends = append(r.ends, len(r.quoted))
				fieldStart = true
				continue
			case b == '\n' || b == '\r':
			default:
				r.quoted = append(r.quoted, b)
			}
			fieldStart = false
		}
		if !inQuotes {
			break
		}
		// The quoted field goes on: r.quoted already holds this line, so ReadSlice may reuse
		// its buffer.
		next, err := r.readLine()
		if err == io.EOF {
			return nil, fmt.Errorf("line %d: quoted field not closed", start)
		}
		if err != nil {
			return nil, err
		}
		line = next
	}
	r.ends = append(r.ends, len(r.quoted))
	r.fields = r.fields[:0]
	from := 0
	for _, end := range r.ends {
		r.fields = append(r.fields, r.quoted[from:end])
		from = end
	}
	return r.fields, nil
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'})
}

func readJSONL(in *bufio.Reader, t *table) error {
	line := 0
	for {
		raw, err := in.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if err := t.addObject(raw); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// addObject adds one JSON object's fields as a row, keeping the keys' order.
func (t *table) addObject(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	t.rows++
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		c := t.column(key)
		if c.rows == t.rows {
			return fmt.Errorf("key %q appears twice", key)
		}
		// Rows before this key first appeared count as missing.
		c.missing += t.rows - 1 - c.rows
		c.rows = t.rows - 1
		var s string
		switch {
		case string(v) == "null":
			c.rows++
			c.missing++
			continue
		case v[0] == '"':
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
		case v[0] == '{' || v[0] == '[':
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return err
			}
			s = buf.String()
		default: // numbers, true, false
			s = string(v)
		}
		c.add([]byte(s))
	}
	_, err = dec.Token()
	return err
}

type table struct {
	distinctCap int
	rows        int64
	order       []*column
	byName      map[string]*column
}

func newTable(distinctCap int) *table {
	return &table{distinctCap: distinctCap, byName: map[string]*column{}}
}

func (t *table) column(name string) *column {
	if c, ok := t.byName[name]; ok {
		return c
	}
	c := &column{name: name, counts: map[string]*int64{}, cap: t.distinctCap}
	t.byName[name] = c
	t.order = append(t.order, c)
	return c
}

// column accumulates one column's statistics in a single pass.
type column struct {
	name    string
	rows    int64 // rows seen so far (for JSONL's absent keys)
	missing int64

	numeric        int64
	min, max, mean float64
	m2             float64 // Welford's sum of squared deviations

	nonNumeric int64
	counts     map[string]*int64 // non-numeric values
	cap        int
	capped     bool
}

func (c *column) add(v []byte) {
	c.rows++
	s := trimSpace(v)
	if len(s) == 0 {
		c.missing++
		return
	}
	if x, ok := parseNumber(s); ok {
		c.numeric++
		if c.numeric == 1 {
			c.min, c.max = x, x
		} else {
			// math.Min and math.Max without their NaN cases (x is finite), -0 below +0.
			if x < c.min || x == c.min && math.Signbit(x) {
				c.min = x
			}
			if x > c.max || x == c.max && !math.Signbit(x) {
				c.max = x
			}
		}
		d := x - c.mean
		c.mean += d / float64(c.numeric)
		c.m2 += d * (x - c.mean)
		return
	}
	c.nonNumeric++
	// Indexing with string(v) does not allocate; only a new key is copied.
	if n := c.counts[string(v)]; n != nil {
		*n++
	} else if len(c.counts) < c.cap {
		one := int64(1)
		c.counts[string(v)] = &one
	} else {
		c.capped = true
	}
}

// trimSpace is bytes.TrimSpace, with the common case (nothing to trim) decided inline.
func trimSpace(v []byte) []byte {
	if len(v) == 0 || v[0] > ' ' && v[0] < 0x80 && v[len(v)-1] > ' ' && v[len(v)-1] < 0x80 {
		return v
	}
	return bytes.TrimSpace(v)
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a finite decimal number, exactly as strconv.ParseFloat does. Plain
// decimals ([+-]digits[.digits]) whose digits fit in 53 bits are read in one loop and
// divided by an exact power of ten, which IEEE rounds correctly (Clinger's fast path, the one
// strconv takes for them too); anything else goes to strconv. Anything that cannot start a
// number is refused before strconv sees it, which keeps text columns cheap.
func parseNumber(s []byte) (float64, bool) {
	switch b := s[0]; {
	case b >= '0' && b <= '9', b == '-', b == '+', b == '.':
	default:
		return 0, false
	}
	i, neg := 0, false
	if s[0] == '-' || s[0] == '+' {
		neg, i = s[0] == '-', 1
	}
	var mantissa uint64
	digits, fraction, dot := 0, 0, false
	for ; i < len(s); i++ {
		b := s[i]
		if b >= '0' && b <= '9' {
			mantissa = mantissa*10 + uint64(b-'0')
			digits++
			if dot {
				fraction++
			}
		} else if b == '.' && !dot {
			dot = true
		} else {
			break
		}
	}
	if i == len(s) && digits > 0 && digits <= 19 && mantissa < 1<<53 && fraction < len(pow10) {
		x := float64(mantissa) / pow10[fraction]
		if neg {
			x = -x
		}
		return x, true
	}
	x, err := strconv.ParseFloat(string(s), 64)
	return x, err == nil && !math.IsInf(x, 0) && !math.IsNaN(x)
}

// The report's shape; encoding/json writes struct fields in this order.
type report struct {
	Dataset string        `json:"dataset"`
	Format  string        `json:"format"`
	Rows    int64         `json:"rows"`
	Columns []columnStats `json:"columns"`
}

type columnStats struct {
	Name           string        `json:"name"`
	Count          int64         `json:"count"`
	Missing        int64         `json:"missing"`
	Numeric        *numericStats `json:"numeric,omitempty"`
	NonNumeric     int64         `json:"non_numeric"`
	Distinct       *int          `json:"distinct,omitempty"`
	DistinctCapped *bool         `json:"distinct_capped,omitempty"`
	Top            []valueCount  `json:"top,omitempty"`
}

type numericStats struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	Stddev float64 `json:"stddev"`
}

type valueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

func (t *table) report(dataset, format string, o options) (report, error) {
	cols := t.order
	if o.columns != nil {
		cols = nil
		for _, name := range o.columns {
			c, ok := t.byName[name]
			if !ok {
				return report{}, fmt.Errorf("no column %q in %s", name, dataset)
			}
			cols = append(cols, c)
		}
	}
	r := report{Dataset: dataset, Format: format, Rows: t.rows, Columns: []columnStats{}}
	for _, c := range cols {
		missing := c.missing + (t.rows - c.rows) // JSONL keys absent from the last rows
		s := columnStats{Name: c.name, Count: t.rows, Missing: missing, NonNumeric: c.nonNumeric}
		if c.numeric > 0 {
			stddev := 0.0
			if c.numeric > 1 {
				stddev = math.Sqrt(c.m2 / float64(c.numeric-1))
			}
			s.Numeric = &numericStats{Count: c.numeric, Min: c.min, Max: c.max, Mean: c.mean, Stddev: stddev}
		}
		if c.nonNumeric > 0 {
			distinct, capped := len(c.counts), c.capped
			s.Distinct, s.DistinctCapped = &distinct, &capped
			s.Top = topValues(c.counts, o.top)
		}
		r.Columns = append(r.Columns, s)
	}
	return r, nil
}

// topValues returns the n most frequent values, ties broken by value (bytewise).
func topValues(counts map[string]*int64, n int) []valueCount {
	all := make([]valueCount, 0, len(counts))
	for v, c := range counts {
		all = append(all, valueCount{v, *c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Value < all[j].Value
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}
