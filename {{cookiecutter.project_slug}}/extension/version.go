package extension

// version is the extension's version, logged when it registers. make build sets it
// with -ldflags "-X <module>/extension.version=..." (git describe, or VERSION=).
var version = "unversioned"
