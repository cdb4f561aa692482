package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func (a *app) emulatorCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "emulator [--listen 127.0.0.1:8080]",
		Short: "Run a fake Woleet API locally, to try tokenaudit without an account",
		Long: `Run the fake Woleet API of package woleettest as a server until interrupted
(Ctrl-C), and print the export lines that point the other commands at it.

It implements GET /token, DELETE /token and GET /user/tokens under /v1, with
Basic and Bearer authentication, and signs real HS256 JWTs without exp, as
Woleet does. State lives in memory and is gone when the emulator stops.

It listens on loopback by default. Its credentials are public, so listening
on any other address is refused unless --listen names it explicitly and
--allow-remote is given.`,
		Example: `  tokenaudit emulator &
  eval "$(tokenaudit emulator --listen 127.0.0.1:8080 | grep ^export)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			allowRemote, _ := cmd.Flags().GetBool("allow-remote")
			if err := checkLoopback(listen, allowRemote); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return withHint(fmt.Errorf("emulator: %w", err), "choose another address with --listen, such as 127.0.0.1:0 for any free port")
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, nil))
			srv := woleettest.NewUnstartedServer(woleettest.WithLogger(logger))
			srv.Listener.Close()
			srv.Listener = ln
			srv.Start()
			defer srv.Close()

			fmt.Fprintf(a.stdout, "# The fake Woleet API is listening at %s (Ctrl-C to stop).\n", srv.URL)
			fmt.Fprintf(a.stdout, "# Paste these lines into another shell to point tokenaudit at it:\n")
			fmt.Fprintf(a.stdout, "export WOLEET_API_URL=%s\n", shellQuote(srv.URL))
			fmt.Fprintf(a.stdout, "export WOLEET_USERNAME=%s\n", shellQuote(woleettest.DefaultEmail))
			fmt.Fprintf(a.stdout, "export WOLEET_PASSWORD=%s\n", shellQuote(woleettest.DefaultPassword))
			if f, ok := a.stdout.(interface{ Sync() error }); ok {
				_ = f.Sync()
			}
			<-cmd.Context().Done()
			fmt.Fprintln(a.stderr, "tokenaudit: emulator stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().Bool("allow-remote", false, "allow a non-loopback --listen address")
	return cmd
}

// checkLoopback refuses a non-loopback listen address unless allowed.
func checkLoopback(listen string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageErrorf("--listen %q: %v", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.IsLoopback() {
		return nil
	}
	if allowRemote {
		return nil
	}
	return withHint(usageErrorf("--listen %q is not a loopback address: the emulator's credentials are public", listen),
		"add --allow-remote if you really mean to serve it to the network")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '@') {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
