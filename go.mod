module github.com/tokenaudit/tokenaudit

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/mattn/go-isatty v0.0.20
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/olekukonko/tablewriter v1.1.5
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	golang.org/x/mod v0.43.0
	golang.org/x/sys v0.30.0
	golang.org/x/time v0.16.0
)

// Test-only: the benchmarks compare jwtinspect with golang-jwt, the library
// a user would otherwise pick.
require github.com/golang-jwt/jwt/v5 v5.3.1

// Test-only: the CLI's terminal behaviour (colours, the [y/N] prompt,
// Ctrl-C) is tested on a real pseudo-terminal.
require github.com/creack/pty v1.1.24

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/clipperhouse/displaywidth v0.10.0 // indirect
	github.com/clipperhouse/uax29/v2 v2.6.0 // indirect
	github.com/fatih/color v1.18.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-runewidth v0.0.19 // indirect
	github.com/olekukonko/cat v0.0.0-20250911104152-50322a0618f6 // indirect
	github.com/olekukonko/errors v1.2.0 // indirect
	github.com/olekukonko/ll v0.1.6 // indirect
)
