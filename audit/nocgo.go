//go:build !cgo

package audit

import _ "embed" // for the directive below, which stops the build

// The ledger is SQLite through cgo (github.com/mattn/go-sqlite3), and cgo
// needs a C compiler. Without one the go command turns cgo off, the driver
// compiles to a stub, and this package would fail with a page of
// "undefined" errors. Instead, the pattern below matches no file, so the
// build stops before anything is compiled with one line that says why.
//
//go:embed "tokenaudit needs cgo and a C compiler for SQLite: install gcc"
var noCgo string
