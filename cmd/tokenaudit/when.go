package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
)

// whenHelp explains the time flags of "tokenaudit events".
const whenHelp = `Times (--since, --until) are RFC 3339 ("2026-03-01T09:00:00Z"), a date
("2026-03-01", midnight UTC), or an age counted back from now: ` + ageUnitsHelp + `.`

// ageHelp explains the age flags of "tokenaudit tokens".
const ageHelp = `Ages (--older-than, --newer-than) are ` + ageUnitsHelp + `.`

// ageUnitsHelp says how parseAge reads an age.
const ageUnitsHelp = `a number and a
unit, s, m, h, d (24 hours) or w (7 days), alone or combined ("7d", "36h",
"1d12h")`

// parseAge reads a non-negative age: Go durations ("36h", "90m") and the
// units d (24 hours) and w (7 days), alone or combined ("7d", "2w",
// "1d12h").
func parseAge(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty age: want a number and a unit, such as 7d or 36h")
	}
	var total time.Duration
	rest := in
	// Days and weeks first, then whatever time.ParseDuration reads.
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || (rest[i] != 'd' && rest[i] != 'w') {
			break
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		if err != nil || n > int64((1<<63-1)/unit) {
			return 0, fmt.Errorf("age %q is too long", s)
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("age %q: want a number and a unit (s, m, h, d or w), such as 7d or 36h", s)
		}
		total += d
	}
	if total < 0 {
		return 0, fmt.Errorf("age %q is too long", s)
	}
	return total, nil
}

// parseWhen reads a point in time: RFC 3339, a date (midnight UTC), or an
// age before now (see parseAge).
func parseWhen(s string, now time.Time) (time.Time, error) {
	in := strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, in); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, in); err == nil {
		return t.UTC(), nil
	}
	d, err := parseAge(in)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-03-01T09:00:00Z), a date (2026-03-01) or an age (7d, 36h)", s)
	}
	return now.Add(-d).UTC(), nil
}

// formatTime renders a time for tables: RFC 3339 in UTC, to the second;
// the zero time is empty.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatStamp renders a time as the ledger stores it and as JSON and CSV
// show it: RFC 3339 in UTC with six fractional digits (audit.TimeFormat),
// so that text order is time order.
func formatStamp(t time.Time) string {
	return t.UTC().Format(audit.TimeFormat)
}

// formatAge renders a duration as people read an age: "3d 4h", "5h 12m",
// "42m", "17s".
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d/time.Hour) % 24
	minutes := int64(d/time.Minute) % 60
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && minutes > 0:
		return fmt.Sprintf("%dh %dm", hours, minutes)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	case minutes > 0:
		return fmt.Sprintf("%dm", minutes)
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}
