// Package svg writes the small SVG pictures of the dev tools (the emulator's timeline,
// the bench's chart): a document of plain elements, every text and attribute value
// escaped with encoding/xml, so that what the extension logged or named can never
// break the markup.
//
// It is a development tool: nothing here ships in the layer.
package svg

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Attr is one attribute of an element.
type Attr struct {
	Name, Value string
}

// A makes an attribute; a float64 or int value is written with at most two decimals.
func A(name string, value any) Attr {
	switch v := value.(type) {
	case float64:
		return Attr{name, Num(v)}
	case int:
		return Attr{name, strconv.Itoa(v)}
	case string:
		return Attr{name, v}
	default:
		return Attr{name, fmt.Sprint(v)}
	}
}

// Num formats a coordinate: at most two decimals, no trailing zeros.
func Num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// Doc is an SVG document being written.
type Doc struct {
	b    bytes.Buffer
	open []string // elements opened and not yet closed
}

// New starts a document of width x height user units (pixels), with a title for
// viewers and screen readers and a style sheet (CSS, may be empty).
func New(width, height float64, title, style string) *Doc {
	d := &Doc{}
	d.b.WriteString(xml.Header)
	d.Open("svg",
		A("xmlns", "http://www.w3.org/2000/svg"),
		A("width", width), A("height", height),
		A("viewBox", "0 0 "+Num(width)+" "+Num(height)),
		A("font-family", "DejaVu Sans, Verdana, Arial, sans-serif"), A("font-size", 12),
	)
	d.Elem("title", title)
	if style != "" {
		d.Open("style")
		d.text(style)
		d.Close()
	}
	return d
}

func (d *Doc) text(s string) {
	// EscapeText only fails when the writer does; a bytes.Buffer never does.
	_ = xml.EscapeText(&d.b, []byte(s))
}

func (d *Doc) start(name string, attrs []Attr) {
	d.b.WriteByte('<')
	d.b.WriteString(name)
	for _, a := range attrs {
		d.b.WriteByte(' ')
		d.b.WriteString(a.Name)
		d.b.WriteString(`="`)
		d.text(a.Value)
		d.b.WriteByte('"')
	}
}

// Open starts an element that later elements go into, until Close.
func (d *Doc) Open(name string, attrs ...Attr) {
	d.start(name, attrs)
	d.b.WriteString(">\n")
	d.open = append(d.open, name)
}

// Close ends the element Open started last.
func (d *Doc) Close() {
	name := d.open[len(d.open)-1]
	d.open = d.open[:len(d.open)-1]
	d.b.WriteString("</" + name + ">\n")
}

// Elem writes one element with text content (none when text is "").
func (d *Doc) Elem(name, text string, attrs ...Attr) {
	d.start(name, attrs)
	if text == "" {
		d.b.WriteString("/>\n")
		return
	}
	d.b.WriteByte('>')
	d.text(text)
	d.b.WriteString("</" + name + ">\n")
}

// Shape writes an element whose tooltip (a <title> child) is tip; none when tip is "".
func (d *Doc) Shape(name, tip string, attrs ...Attr) {
	if tip == "" {
		d.Elem(name, "", attrs...)
		return
	}
	d.Open(name, attrs...)
	d.Elem("title", tip)
	d.Close()
}

// Bytes closes every open element and returns the document.
func (d *Doc) Bytes() []byte {
	for len(d.open) > 0 {
		d.Close()
	}
	return d.b.Bytes()
}

// WriteFile writes the finished document to path, creating its directory.
func (d *Doc) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, d.Bytes(), 0o644)
}

// TextWidth estimates the width of s at font size 12 in the sans-serif fonts New
// names, to keep labels from running into each other.
func TextWidth(s string, size float64) float64 {
	return float64(len([]rune(s))) * size * 0.58
}
