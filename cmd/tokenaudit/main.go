// Command tokenaudit issues, revokes, inspects and audits the JWTs of the
// Woleet API. Run "tokenaudit --help" for the commands, or see the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], systemEnv())
	stop()
	os.Exit(code)
}
