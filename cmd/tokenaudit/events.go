package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// eventHeader names the columns of "tokenaudit events": the columns of the
// table events. Tables show the first seven; CSV shows them all.
var eventHeader = []string{"seq", "ts", "kind", "fingerprint", "cdata", "actor", "result",
	"subject", "api_url", "http_status", "request_seq", "error", "detail", "leaf_hash"}

// eventCells renders an event for a table (short) or CSV (every column).
func (a *app) eventCells(e audit.Event) []string {
	result := eventResult(e)
	ts := formatTime(e.TS)
	if a.format == output.CSV {
		ts = formatStamp(e.TS)
	}
	cells := []string{strconv.FormatInt(e.Seq, 10), ts, string(e.Kind), a.fpCell(e.Fingerprint), e.CData, e.Actor, result}
	if a.format != output.CSV {
		return append(cells, eventWhy(e.Detail))
	}
	status, reqSeq := "", ""
	if e.HTTPStatus != 0 {
		status = strconv.Itoa(e.HTTPStatus)
	}
	if e.RequestSeq != nil {
		reqSeq = strconv.FormatInt(*e.RequestSeq, 10)
	}
	return append(cells, e.Subject, e.APIURL, status, reqSeq, e.Error, string(e.Detail), e.LeafHash)
}

func (a *app) eventsCommand() *cobra.Command {
	var (
		lf                   ledgerFlags
		kinds                []string
		f                    audit.EventFilter
		since, until         string
		afterSeq             int64
		fingerprint, subject string
		follow               bool
	)
	kindNames := make([]string, len(audit.Kinds()))
	for i, k := range audit.Kinds() {
		kindNames[i] = string(k)
	}
	cmd := &cobra.Command{
		Use:   "events [--kind K] [--cdata X] [--fingerprint F] [--since T] [--until T]",
		Short: "List the ledger's events",
		Long: `List the events the ledger recorded, oldest first (--newest for newest
first), with the filters given combined. The ledger is opened read-only.

Kinds: ` + strings.Join(kindNames, ", ") + `.

A table shows seq, time, kind, fingerprint (first 12 hex digits), cdata,
actor and the result (HTTP status and error); --format csv adds every other
column of the table events, --format json and jsonl print the rows with the
column names as keys. A table adds a "why" column when an event records a
reason (detail.reason) or belongs to a rotation.

--follow prints the events as they are appended, as tail -f does, until
Ctrl-C or SIGTERM (exit status 130, as for every command) or until the
reader of standard output goes away (exit status 0): one JSON line per event with --format jsonl (for a
SIEM), a CSV row with --format csv, a row per event otherwise. Events other
processes append show within a second. Seq is the cursor: --after-seq N
resumes exactly after event N, never skipping or repeating one, and when
it stops the follower says on standard error which seq to resume after:
the last event written or, when its reader (a pipe) went away, the last
one the reader read in full.
It reads the ledger in short read transactions and never holds a lock a
writer waits for.

` + whenHelp,
		Example: `  tokenaudit events --cdata acme
  tokenaudit events --kind issue_failed,revoke_failed --since 7d
  tokenaudit events --fingerprint 3fa2c19b --format json
  tokenaudit events --after-seq 1200 --format jsonl   # what is new since seq 1200
  tokenaudit events --follow --format jsonl --after-seq 1200 >> siem.jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := a.now()
			for _, k := range kinds {
				kind := audit.Kind(strings.TrimSpace(k))
				if !kind.Valid() {
					return usageErrorf("--kind %q: want one of %s", k, strings.Join(kindNames, ", "))
				}
				if !slices.Contains(f.Kinds, kind) {
					f.Kinds = append(f.Kinds, kind)
				}
			}
			var err error
			if since != "" {
				if f.Since, err = parseWhen(since, now); err != nil {
					return usageErrorf("--since: %v", err)
				}
			}
			if until != "" {
				if f.Until, err = parseWhen(until, now); err != nil {
					return usageErrorf("--until: %v", err)
				}
			}
			if cmd.Flags().Changed("after-seq") {
				if afterSeq < -1 {
					return usageErrorf("--after-seq %d is negative", afterSeq)
				}
				f.FromSeq = afterSeq + 1
			}
			if f.Limit < 0 {
				return usageErrorf("--limit %d is negative", f.Limit)
			}
			if fingerprint != "" {
				if err := checkFingerprintFlag(fingerprint); err != nil {
					return err
				}
			}
			f.Fingerprint, f.Subject = fingerprint, subject
			if follow {
				switch {
				case f.Newest, f.Limit != 0, !f.Until.IsZero():
					return usageErrorf("--follow lists events until stopped: --newest, --limit and --until make no sense with it")
				case a.format == output.JSON, a.format == output.Markdown:
					return withHint(usageErrorf("--follow cannot print --format %s, a document with an end", a.format),
						"use --format jsonl: one JSON object per line")
				}
				return a.readLedger(lf, func(l *audit.Ledger) error { return a.follow(cmd.Context(), l, f) })
			}
			header := append(eventHeader[:7:7], "why")
			if a.format == output.CSV {
				header = eventHeader
			}
			return a.readLedger(lf, func(l *audit.Ledger) error {
				rw := a.newResultWriter(a.stdout, "", header...)
				rw.optionalLast = a.format != output.CSV
				return writeAll(rw, l.Events(cmd.Context(), f), a.eventCells)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&kinds, "kind", nil, "only events of these kinds (repeat, or separate with commas)")
	fl.StringVar(&f.CData, "cdata", "", "only events with this cdata")
	fl.BoolVar(&f.CDataPrefix, "cdata-prefix", false, "with --cdata: every cdata that starts with it")
	fl.StringVar(&fingerprint, "fingerprint", "", "only the events of the token with this fingerprint or prefix (8 hex digits or more)")
	fl.StringVar(&f.Actor, "actor", "", `only events by this actor ("USER@HOST via IDENTITY", as listed)`)
	fl.StringVar(&subject, "subject", "", "only events with this subject (the token's sub claim)")
	fl.StringVar(&since, "since", "", "only events recorded at or after this time (RFC 3339, a date, or an age such as 7d)")
	fl.StringVar(&until, "until", "", "only events recorded before this time")
	fl.Int64Var(&afterSeq, "after-seq", -1, "only events after this seq")
	fl.IntVar(&f.Limit, "limit", 0, "list at most this many events (0: all)")
	fl.BoolVar(&f.Newest, "newest", false, "newest first")
	fl.BoolVar(&follow, "follow", false, "print events as they are appended, until stopped (resume with --after-seq)")
	_ = cmd.RegisterFlagCompletionFunc("kind", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return kindNames, cobra.ShellCompDirectiveNoFileComp
	})
	lf.register(cmd)
	a.completeFromLedger(cmd, &lf, false)
	return cmd
}

// checkFingerprintFlag checks a --fingerprint value before the ledger or
// the API is asked: a full fingerprint, or a prefix of at least
// audit.MinFingerprintPrefix hex digits, with or without "sha256:".
func checkFingerprintFlag(s string) error {
	h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
	switch {
	case strings.Trim(h, "0123456789abcdef") != "":
		return usageErrorf("--fingerprint %q is not hex", s)
	case len(h) < audit.MinFingerprintPrefix:
		return usageErrorf("--fingerprint %q: give at least %d hex digits", s, audit.MinFingerprintPrefix)
	case len(h) > 64:
		return usageErrorf("--fingerprint %q is longer than a fingerprint (64 hex digits)", s)
	}
	return nil
}

// tokenHeader names the columns of "tokenaudit tokens": the columns of the
// view tokens, and the age of live tokens.
var tokenHeader = []string{"fingerprint", "cdata", "state", "issued_at", "age", "issued_by", "revoked_at",
	"subject", "issued_seq", "revoked_by", "revoked_seq"}

// tokenCells renders a token for a table (short) or CSV (every column).
func (a *app) tokenCells(t audit.Token) []string {
	age := ""
	if t.State == audit.StateActive {
		age = formatAge(t.Age(a.now()))
	}
	cells := []string{a.fpCell(t.Fingerprint), t.CData, string(t.State), formatTime(t.IssuedAt), age, t.IssuedBy, formatTime(t.RevokedAt)}
	if a.format != output.CSV {
		return cells
	}
	revokedSeq := ""
	if t.RevokedSeq != nil {
		revokedSeq = strconv.FormatInt(*t.RevokedSeq, 10)
	}
	return append(cells, t.Subject, strconv.FormatInt(t.IssuedSeq, 10), t.RevokedBy, revokedSeq)
}

func (a *app) tokensCommand() *cobra.Command {
	var (
		lf                          ledgerFlags
		f                           audit.TokenFilter
		state, olderThan, newerThan string
		fingerprint                 string
	)
	cmd := &cobra.Command{
		Use:   "tokens [--state active|revoked] [--cdata X] [--older-than 90d]",
		Short: "List the tokens the ledger knows, live or revoked",
		Long: `List the tokens the ledger knows (its view tokens), in the order they were
recorded (--newest for newest first): fingerprint, cdata, state (active or
revoked), when and by whom each was issued, the age of the live ones, and
when each was revoked. The ledger is opened read-only.

Woleet tokens never expire: every active token is a working credential.
"--state active --older-than 90d" lists those due for rotation.

` + ageHelp,
		Example: `  tokenaudit tokens --state active
  tokenaudit tokens --state active --older-than 90d
  tokenaudit tokens --cdata acme --format csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch audit.State(state) {
			case "", audit.StateActive, audit.StateRevoked:
				f.State = audit.State(state)
			default:
				return usageErrorf("--state %q: want active or revoked", state)
			}
			var err error
			if olderThan != "" {
				if f.MinAge, err = parseAge(olderThan); err != nil {
					return usageErrorf("--older-than: %v", err)
				}
			}
			if newerThan != "" {
				age, err := parseAge(newerThan)
				if err != nil {
					return usageErrorf("--newer-than: %v", err)
				}
				f.IssuedSince = a.now().Add(-age)
			}
			if f.Limit < 0 {
				return usageErrorf("--limit %d is negative", f.Limit)
			}
			if fingerprint != "" {
				if err := checkFingerprintFlag(fingerprint); err != nil {
					return err
				}
			}
			f.Fingerprint = fingerprint
			header := tokenHeader[:7]
			if a.format == output.CSV {
				header = tokenHeader
			}
			return a.readLedger(lf, func(l *audit.Ledger) error {
				return writeAll(a.newResultWriter(a.stdout, "", header...), l.Tokens(cmd.Context(), f), a.tokenCells)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&state, "state", "", "only tokens in this state: active or revoked")
	fl.StringVar(&f.CData, "cdata", "", "only tokens with this cdata")
	fl.BoolVar(&f.CDataPrefix, "cdata-prefix", false, "with --cdata: every cdata that starts with it")
	fl.StringVar(&fingerprint, "fingerprint", "", "only the token with this fingerprint or prefix (8 hex digits or more)")
	fl.StringVar(&f.Subject, "subject", "", "only tokens with this subject (sub claim)")
	fl.StringVar(&olderThan, "older-than", "", "only tokens issued at least this long ago (such as 90d)")
	fl.StringVar(&newerThan, "newer-than", "", "only tokens issued less than this long ago (such as 24h)")
	fl.IntVar(&f.Limit, "limit", 0, "list at most this many tokens (0: all)")
	fl.BoolVar(&f.Newest, "newest", false, "newest first")
	_ = cmd.RegisterFlagCompletionFunc("state", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"active", "revoked"}, cobra.ShellCompDirectiveNoFileComp
	})
	lf.register(cmd)
	a.completeFromLedger(cmd, &lf, false)
	return cmd
}

// eventResult says how an event's API call ended: its error (which names
// the HTTP status), or the status alone.
func eventResult(e audit.Event) string {
	switch {
	case e.Error != "":
		return e.Error
	case e.HTTPStatus != 0:
		return strconv.Itoa(e.HTTPStatus)
	}
	return ""
}
