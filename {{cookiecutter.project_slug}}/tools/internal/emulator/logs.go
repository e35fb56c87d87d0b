package emulator

// The extension's own output, read line by line (Config.Logs): made readable for
// people, and its lifecycle lines kept for the report (Report.Logs) and the SVG.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// LogFormat says what Config.Output receives of the extension's stdout and stderr.
type LogFormat string

// The log formats.
const (
	// LogsAsWritten passes the bytes on as the extension wrote them; the emulator does
	// not read them (Report.Logs stays empty). The default.
	LogsAsWritten LogFormat = ""
	// LogsRaw passes the same bytes on, and reads them line by line: Report.Logs keeps
	// the lifecycle lines.
	LogsRaw LogFormat = "raw"
	// LogsReadable writes each JSON log line as one readable line, its time as an
	// offset from the extension's start (the timeline's clock), then level, message and
	// fields: "+12.3ms INFO  registered name=order-shipper version=v1.2.0". Other lines
	// pass unchanged. Report.Logs keeps the lifecycle lines, as with LogsRaw.
	LogsReadable LogFormat = "readable"
)

// LogFormats lists the formats a flag may name.
var LogFormats = []LogFormat{LogsReadable, LogsRaw}

// LogLine is one JSON log line of the extension that the report keeps: its lifecycle
// lines (LifecycleMessages) and its warnings and errors (the first few).
type LogLine struct {
	// At is the line's own "time", as an offset from the extension's start; the time it
	// reached the emulator when the line has none.
	At     time.Duration
	Level  string
	Msg    string
	Fields []Field // in the line's order, without time, level and msg
}

// Field is one key of a log line: Value is the text of a string, or the compact JSON
// of any other value (JSON is then true).
type Field struct {
	Key, Value string
	JSON       bool
}

// Field returns the value of key, or "".
func (l LogLine) Field(key string) string {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// LifecycleMessages are the messages of the lines the extension package itself logs
// once per run, whatever the processor does: Report.Logs always keeps them.
var LifecycleMessages = []string{"registered", "initialised", "shutdown complete", "records"}

const (
	// maxKeptWarnings bounds the WARN and ERROR lines Report.Logs keeps.
	maxKeptWarnings = 20
	// maxLogLine is the longest line kept whole in memory; longer ones pass unparsed.
	maxLogLine = 1 << 20
	// maxFieldValue is the longest field value a readable line shows (in runes).
	maxFieldValue = 120
	// maxObjectDepth is how deep objects in a line are spread into key.sub=value fields.
	maxObjectDepth = 2
)

// logWriter is Config.Output's side of the extension's stdout and stderr when the
// emulator reads them. It is safe for concurrent use.
type logWriter struct {
	mu     sync.Mutex
	out    io.Writer
	format LogFormat
	start  time.Time        // the extension's start; set before it runs
	now    func() time.Time // the clock, for lines without a time
	keep   func(LogLine)    // called with each line the report keeps
	buf    []byte           // an unfinished line
	warns  int
}

func newLogWriter(out io.Writer, format LogFormat, keep func(LogLine)) *logWriter {
	return &logWriter{out: out, format: format, now: time.Now, keep: keep}
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.format != LogsReadable {
		// Raw: the bytes go on at once, as written; the lines are only read.
		if _, err := w.out.Write(p); err != nil {
			return 0, err
		}
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxLogLine {
		w.line(w.buf)
		w.buf = nil
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large backing array go
	}
	return len(p), nil
}

// Flush handles an unfinished last line; call it once the extension has exited.
func (w *logWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = nil
	}
}

// line handles one complete line (without its newline); the caller holds w.mu.
func (w *logWriter) line(raw []byte) {
	l, ok := parseLogLine(raw, w.start, w.now())
	if w.format == LogsReadable {
		if ok {
			io.WriteString(w.out, l.Readable()+"\n")
		} else {
			w.out.Write(append(raw[:len(raw):len(raw)], '\n'))
		}
	}
	if !ok || w.keep == nil {
		return
	}
	switch {
	case isLifecycle(l.Msg):
		w.keep(l)
	case (l.Level == "WARN" || l.Level == "ERROR") && w.warns < maxKeptWarnings:
		w.warns++
		w.keep(l)
	}
}

func isLifecycle(msg string) bool {
	for _, m := range LifecycleMessages {
		if msg == m {
			return true
		}
	}
	return false
}

// parseLogLine reads one line as a JSON object with a "msg" (log/slog's JSON handler
// and most JSON loggers); start is the extension's start, arrived when the line came.
func parseLogLine(raw []byte, start, arrived time.Time) (LogLine, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '{' {
		return LogLine{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return LogLine{}, false
	}
	l := LogLine{At: arrived.Sub(start)}
	hasMsg := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return LogLine{}, false
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return LogLine{}, false
		}
		text, isJSON := fieldText(value)
		switch key {
		case "time", "level", "msg":
		default:
			// An object (a slog group, a record) reads better as its keys.
			if sub, ok := objectFields(value, key+".", 1); ok {
				l.Fields = append(l.Fields, sub...)
				continue
			}
		}
		switch key {
		case "time":
			if t, err := time.Parse(time.RFC3339Nano, text); err == nil && !start.IsZero() {
				l.At = t.Sub(start)
			}
		case "level":
			l.Level = text
		case "msg":
			l.Msg, hasMsg = text, true
		default:
			l.Fields = append(l.Fields, Field{Key: key, Value: text, JSON: isJSON})
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') || dec.More() {
		return LogLine{}, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return LogLine{}, false // something after the object
	}
	return l, hasMsg
}

// objectFields lists the keys of a JSON object as prefix+key fields, in order, nested
// objects down to maxObjectDepth; ok is false for any other value.
func objectFields(raw json.RawMessage, prefix string, depth int) ([]Field, bool) {
	if len(raw) == 0 || raw[0] != '{' || depth > maxObjectDepth {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var fields []Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		if sub, ok := objectFields(value, prefix+key+".", depth+1); ok {
			fields = append(fields, sub...)
			continue
		}
		text, isJSON := fieldText(value)
		fields = append(fields, Field{Key: prefix + key, Value: text, JSON: isJSON})
	}
	return fields, true
}

// fieldText is a string's text, or the compact JSON of any other value (isJSON).
func fieldText(v json.RawMessage) (text string, isJSON bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, false
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String(), true
	}
	return string(v), true
}

// Readable is the line as make local shows it: offset, level, message, fields.
func (l LogLine) Readable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%10s  %-5s %s", "+"+fmtDur(l.At), l.Level, l.Msg)
	for _, f := range l.Fields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(readableValue(f))
	}
	return b.String()
}

// readableValue shortens a long value, and quotes a string that would not read as
// one word.
func readableValue(f Field) string {
	v := f.Value
	if utf8.RuneCountInString(v) > maxFieldValue {
		v = string([]rune(v)[:maxFieldValue-1]) + "…"
	}
	if !f.JSON && (v == "" || strings.ContainsAny(v, " \t\r\n\"=\\") || !utf8.ValidString(v)) {
		return strconv.Quote(v)
	}
	return v
}
