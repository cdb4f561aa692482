package audit

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Cond is a condition on what the ledger holds, checked by
// [Ledger.AppendIf] inside the write transaction that appends the event it
// guards, so that the decision "is this token already known, still active,
// already revoked?" and the event recording its answer are one atomic step:
// processes racing on one ledger record one event per fact. The zero Cond
// always holds. Build one with [IfUnknown], [IfActive], [IfRevoked],
// [IfUnanswered] or [IfNoIssueInFlight].
type Cond struct {
	op          condOp
	fingerprint string
	cdata       string
	seq         int64
	since       time.Time
}

type condOp uint8

const (
	condAlways condOp = iota
	condUnknown
	condActive
	condRevoked
	condUnanswered
	condNoIssueInFlight
)

// IfUnknown holds when the ledger has no issue or import event of the token.
func IfUnknown(fingerprint string) Cond { return Cond{op: condUnknown, fingerprint: fingerprint} }

// IfActive holds when the ledger knows the token and its state is active.
func IfActive(fingerprint string) Cond { return Cond{op: condActive, fingerprint: fingerprint} }

// IfRevoked holds when the ledger knows the token and its state is revoked.
func IfRevoked(fingerprint string) Cond { return Cond{op: condRevoked, fingerprint: fingerprint} }

// IfUnanswered holds when no event names seq as its request_seq: the
// outcome seq left pending has not been recorded yet.
func IfUnanswered(seq int64) Cond { return Cond{op: condUnanswered, seq: seq} }

// IfNoIssueInFlight holds when no issue_requested event with this cdata,
// recorded at or after since, is still unanswered: no issue that may yet
// record the token is in flight.
func IfNoIssueInFlight(cdata string, since time.Time) Cond {
	return Cond{op: condNoIssueInFlight, cdata: cdata, since: since}
}

// Guarded is an event to append only if all of its conditions hold.
type Guarded struct {
	// Event is the event to append.
	Event Event
	// If lists the conditions; all must hold (none: always appended).
	If []Cond
}

// tokenState is what the conditions need to know of one token.
type tokenState struct {
	known, revoked bool
}

// condChecker evaluates conditions inside one write transaction, seeing the
// events appended before it in the same batch as well as the ledger's.
type condChecker struct {
	ctx      context.Context
	q        queryer
	tokens   map[string]tokenState
	answered map[int64]bool
	inFlight []Event // issue_requested events earlier in the batch
}

// tokenStateQuery reads whether the token with fingerprint ?1 and
// fingerprint_key ?2 was born, and the kind of its latest state-changing
// event.
const tokenStateQuery = `SELECT
    (SELECT count(*) FROM (SELECT 1 FROM events WHERE fingerprint_key = ?2 AND kind IN ('issue', 'import') AND fingerprint = ?1 LIMIT 1) AS b),
    (SELECT kind FROM events WHERE fingerprint_key = ?2 AND kind IN ('issue', 'import', 'seen_live', 'revoke', 'revoked_elsewhere')
       AND fingerprint = ?1 ORDER BY seq DESC LIMIT 1)`

// token returns the state of a token, from the batch or the ledger.
func (c *condChecker) token(fp string) (tokenState, error) {
	if s, ok := c.tokens[fp]; ok {
		return s, nil
	}
	var births int64
	var last sql.NullString
	var key any // NULL, matching nothing, for a malformed fingerprint (which the append refuses)
	if validFingerprint(fp) {
		key = fingerprintKey(fp)
	}
	err := c.q.QueryRowContext(c.ctx, tokenStateQuery, fp, key).Scan(&births, &last)
	if err != nil {
		return tokenState{}, fmt.Errorf("read the state of token %s: %w", short(fp), classify(err))
	}
	s := tokenState{known: births > 0, revoked: last.String == string(KindRevoke) || last.String == string(KindRevokedElsewhere)}
	c.tokens[fp] = s
	return s, nil
}

// holds evaluates one condition.
func (c *condChecker) holds(cond Cond) (bool, error) {
	switch cond.op {
	case condAlways:
		return true, nil
	case condUnknown, condActive, condRevoked:
		s, err := c.token(cond.fingerprint)
		if err != nil {
			return false, err
		}
		switch cond.op {
		case condUnknown:
			return !s.known, nil
		case condActive:
			return s.known && !s.revoked, nil
		default:
			return s.known && s.revoked, nil
		}
	case condUnanswered:
		if c.answered[cond.seq] {
			return false, nil
		}
		var n int64
		if err := c.q.QueryRowContext(c.ctx, "SELECT count(*) FROM (SELECT 1 FROM events WHERE request_seq = ? LIMIT 1) AS a", cond.seq).Scan(&n); err != nil {
			return false, fmt.Errorf("read the answers to seq %d: %w", cond.seq, classify(err))
		}
		return n == 0, nil
	case condNoIssueInFlight:
		for _, e := range c.inFlight {
			if e.CData == cond.cdata {
				return false, nil
			}
		}
		var n int64
		err := c.q.QueryRowContext(c.ctx, `SELECT count(*) FROM (SELECT 1 FROM events AS e
WHERE e.cdata = ? AND e.kind = 'issue_requested' AND e.ts >= ?
  AND NOT EXISTS (SELECT 1 FROM events AS o WHERE o.request_seq = e.seq) LIMIT 1) AS f`,
			cond.cdata, formatTS(cond.since)).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("read the issue requests in flight: %w", classify(err))
		}
		return n == 0, nil
	}
	return false, fmt.Errorf("unknown condition %d", cond.op)
}

// record notes an event the batch will append, for later conditions.
func (c *condChecker) record(e Event) error {
	if e.RequestSeq != nil {
		c.answered[*e.RequestSeq] = true
	}
	if e.Kind == KindIssueRequested {
		c.inFlight = append(c.inFlight, e)
	}
	switch e.Kind {
	case KindIssue, KindImport, KindSeenLive, KindRevoke, KindRevokedElsewhere:
	default:
		return nil
	}
	s, err := c.token(e.Fingerprint)
	if err != nil {
		return err
	}
	switch e.Kind {
	case KindIssue, KindImport:
		s.known, s.revoked = true, false
	case KindSeenLive:
		s.revoked = false
	default:
		s.revoked = true
	}
	c.tokens[e.Fingerprint] = s
	return nil
}

// filter keeps the entries whose conditions hold, in order, deciding each
// after the ones before it.
func (c *condChecker) filter(entries []Guarded) (kept []Event, applied []bool, err error) {
	applied = make([]bool, len(entries))
	for i, g := range entries {
		ok := true
		for _, cond := range g.If {
			if ok, err = c.holds(cond); err != nil {
				return nil, nil, err
			}
			if !ok {
				break
			}
		}
		if ok {
			applied[i] = true
			kept = append(kept, g.Event)
			if err := c.record(g.Event); err != nil {
				return nil, nil, err
			}
		}
	}
	return kept, applied, nil
}
