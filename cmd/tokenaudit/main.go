// Command tokenaudit issues, revokes, inspects and audits the JWTs of the
// Woleet API. Run "tokenaudit --help" for the commands, or see the README.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], systemEnv()))
}
