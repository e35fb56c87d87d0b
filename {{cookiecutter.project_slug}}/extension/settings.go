package extension

import (
	"math"
	"net/url"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
)

// Prefix starts the name of every environment variable the extension reads, its
// own and the built-in ones (Prefix+"LOG_LEVEL"). Set them on the function: Lambda
// passes the function's environment to its extensions.
const Prefix = "{{ cookiecutter.__env_prefix }}"

// Settings reads the extension's own settings from Prefix+name environment
// variables. A missing or empty variable gives the default. A bad value gives the
// default too, and is reported with the built-in settings' bad values: Run sends
// them all, each variable named, to Lambda as Extension.ConfigInvalid once the
// constructor returns, and exits 1.
type Settings struct {
	r *config.Reader
}

// String reads Prefix+name as text, trimmed of surrounding space.
func (s *Settings) String(name, def string) string { return s.r.String(name, def) }

// Int reads Prefix+name as a whole number.
func (s *Settings) Int(name string, def int) int {
	return s.r.Int(name, def, math.MinInt, math.MaxInt)
}

// IntRange reads Prefix+name as a whole number from low to high.
func (s *Settings) IntRange(name string, def, low, high int) int {
	return s.r.Int(name, def, low, high)
}

// Duration reads Prefix+name as a Go duration ("250ms", "1m30s") or a number of
// milliseconds; it must not be negative.
func (s *Settings) Duration(name string, def time.Duration) time.Duration {
	return s.r.Duration(name, def, 0, math.MaxInt64)
}

// DurationRange reads Prefix+name as Duration does, from low to high.
func (s *Settings) DurationRange(name string, def, low, high time.Duration) time.Duration {
	return s.r.Duration(name, def, low, high)
}

// Bool reads Prefix+name as true or false (also 1/0, yes/no, on/off).
func (s *Settings) Bool(name string, def bool) bool { return s.r.Bool(name, def) }

// URL reads Prefix+name as an absolute http:// or https:// URL. def is used when
// the variable is not set; an empty def gives nil then.
func (s *Settings) URL(name, def string) *url.URL { return s.r.URL(name, def) }

// Invalid reports Prefix+name as invalid, for checks of your own; problem
// completes the sentence "PREFIX_NAME ...", e.g. "must be shorter than PREFIX_TTL".
func (s *Settings) Invalid(name, problem string) { s.r.Fail(name, problem) }
