package woleet_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func ExampleNewClient() {
	// Against the real API: https://api.woleet.io/v1 and one kind of
	// credentials, from the environment or a file, never from a flag.
	c, err := woleet.NewClient(woleet.WithBasicAuth("ops@example.com", "password from the environment"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())
	fmt.Println(c.Identity())

	_, err = woleet.NewClient()
	fmt.Println(errors.Is(err, woleet.ErrNoCredentials))
	// Output:
	// https://api.woleet.io/v1
	// basic:ops@example.com
	// true
}

func ExampleClient_GenerateToken() {
	srv := woleettest.NewServer() // a fake Woleet API
	defer srv.Close()
	c := srv.Client()

	tok, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "customer 42"})
	if err != nil {
		log.Fatal(err)
	}
	// tok.Token is the JWT; printing tok shows only its short fingerprint.
	rec := srv.Tokens()[0]
	fmt.Println(rec.Token == tok.Token, rec.CData)
	// Output: true customer 42
}

func ExampleClient_GenerateToken_outcomeUnknown() {
	srv := woleettest.NewServer()
	defer srv.Close()
	c := srv.Client()

	srv.DropNext(1) // the server issues the token, and the answer is lost
	_, err := c.GenerateToken(context.Background(), woleet.GenerateTokenOptions{CData: "lost"})
	if errors.Is(err, woleet.ErrOutcomeUnknown) {
		// Not retried: record the attempt, then reconcile with ListTokens.
		live, _ := c.ListTokens(context.Background())
		fmt.Println("tokens nobody received:", len(live))
	}
	// Output: tokens nobody received: 1
}

func ExampleClient_RevokeToken() {
	srv := woleettest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "ci job"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.RevokeToken(ctx, tok.Token); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Revoked(tok.Token))

	// A second revoke is a 400.
	err = c.RevokeToken(ctx, tok.Token)
	var apiErr *woleet.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, errors.Is(err, woleet.ErrBadRequest), apiErr.Message)
	}
	// Output:
	// true
	// 400 true unknown or already revoked token
}

func ExampleClient_ListTokens() {
	srv := woleettest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	for _, holder := range []string{"alice", "bob"} {
		if _, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: holder}); err != nil {
			log.Fatal(err)
		}
	}
	live, err := c.ListTokens(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(live), "live tokens")
	// Output: 2 live tokens
}

func ExampleWithRetry() {
	srv := woleettest.NewServer()
	defer srv.Close()
	// Retry quickly (a test would): 3 attempts, no wait.
	c := srv.Client(woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 3}))

	srv.FailNext(2, http.StatusTooManyRequests, nil)
	_, err := c.ListTokens(context.Background())
	fmt.Println(err, len(srv.Requests()))

	srv.FailNext(3, http.StatusTooManyRequests, nil)
	_, err = c.ListTokens(context.Background())
	fmt.Println(errors.Is(err, woleet.ErrRateLimited))
	// Output:
	// <nil> 3
	// true
}
