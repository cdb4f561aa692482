package woleettest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func ExampleNewServer() {
	srv := woleettest.NewServer()
	defer srv.Close()

	c := srv.Client() // Basic auth as DefaultEmail
	tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "ci"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Algorithm(), len(srv.LiveTokens(woleettest.DefaultEmail)), srv.Revoked(tok.Token))
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.Query, r.Status)
	}
	// Output:
	// HS256 1 false
	// GET /v1/token cdata=ci 200
}

func ExampleNewUnstartedServer() {
	// The emulator's way: a server on a listener of one's choosing.
	l, err := net.Listen("tcp", "127.0.0.1:0") // e.g. "127.0.0.1:8080"
	if err != nil {
		log.Fatal(err)
	}
	srv := woleettest.NewUnstartedServer()
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	fmt.Println(srv.URL == "http://"+l.Addr().String()+"/v1")
	// Output: true
}

func ExampleServer_FailNext() {
	srv := woleettest.NewServer()
	defer srv.Close()
	c := srv.Client(woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 5})) // no waits, for the example

	srv.FailNext(2, http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}})
	_, err := c.ListTokens(context.Background())
	fmt.Println(err, len(srv.Requests()))

	srv.FailNext(1, http.StatusInternalServerError, nil)
	_, err = c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{})
	fmt.Println(errors.Is(err, woleet.ErrServerError), errors.Is(err, woleet.ErrOutcomeUnknown))
	// Output:
	// <nil> 3
	// true true
}

func ExampleServer_DropNext() {
	srv := woleettest.NewServer()
	defer srv.Close()

	srv.DropNext(1) // the token is issued, the answer never comes
	_, err := srv.Client().GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "lost"})
	fmt.Println(errors.Is(err, woleet.ErrOutcomeUnknown))
	fmt.Println(srv.Tokens()[0].CData, srv.Requests()[0].Dropped())
	// Output:
	// true
	// lost true
}

func ExampleServer_IssueDirect() {
	srv := woleettest.NewServer()
	defer srv.Close()

	// A token made behind the ledger's back, for a reconcile to find.
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "unrecorded")
	if err != nil {
		log.Fatal(err)
	}
	live, err := srv.Client().ListTokens(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(live), live[0] == tok)
	// Output: 1 true
}

func ExampleServer_ClientOptions() {
	srv := woleettest.NewServer()
	defer srv.Close()

	// A client with Bearer credentials: a token of the server's own.
	tok, err := srv.IssueDirect(woleettest.DefaultEmail, "api")
	if err != nil {
		log.Fatal(err)
	}
	c, err := woleet.NewClient(append(srv.ClientOptions(), woleet.WithBearerToken(tok))...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.RevokeToken(context.Background(), tok)) // revoke itself
	_, err = c.ListTokens(context.Background())
	fmt.Println(errors.Is(err, woleet.ErrUnauthorized))
	// Output:
	// <nil>
	// true
}

func ExampleServer_AnswerNext() {
	srv := woleettest.NewServer()
	defer srv.Close()
	c := srv.Client()

	// An answer the specification does not allow: "tokens" is required.
	srv.AnswerNext(1, http.StatusOK, nil, []byte(`{"tokens": null}`))
	_, err := c.ListTokens(context.Background())
	fmt.Println(errors.Is(err, woleet.ErrInvalidResponse))
	fmt.Println(err)
	// Output:
	// true
	// woleet: list tokens: GET /v1/user/tokens: 200 OK: "tokens" is null, not an array of strings; the server sent {"tokens":null}
}

func ExampleWithOpaqueTokens() {
	srv := woleettest.NewServer(woleettest.WithOpaqueTokens())
	defer srv.Close()
	tok, err := srv.Client().GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "ci"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(tok.Token), tok.Token[:len(woleettest.OpaqueTokenPrefix)])
	// Output: 38 token-
}
