package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
)

// maxReasonBytes bounds --reason.
const maxReasonBytes = 1024

// registerReason adds --reason to a command that records events.
func registerReason(cmd *cobra.Command, reason *string) {
	cmd.Flags().StringVar(reason, "reason", "",
		`why: recorded in each event as detail.reason, shown by "events" and "report"`)
}

// checkReason checks a --reason value before anything is asked or recorded.
func checkReason(reason string) error {
	switch {
	case !utf8.ValidString(reason):
		return usageErrorf("--reason is not valid UTF-8")
	case len(reason) > maxReasonBytes:
		return usageErrorf("--reason is %d bytes long: at most %d", len(reason), maxReasonBytes)
	}
	return nil
}

// eventWhy says why an event happened, from its detail: the reason, and
// the rotation it belongs to. Empty when the detail says nothing of it.
func eventWhy(detail json.RawMessage) string {
	if !strings.Contains(string(detail), `"r`) {
		return "" // no reason, rotates or rotated_by: skip the decoding
	}
	var d struct {
		Reason    string   `json:"reason"`
		Rotates   []string `json:"rotates"`
		RotatedBy string   `json:"rotated_by"`
	}
	if json.Unmarshal(detail, &d) != nil {
		return ""
	}
	var parts []string
	if d.Reason != "" {
		parts = append(parts, d.Reason)
	}
	if len(d.Rotates) > 0 {
		parts = append(parts, fmt.Sprintf("rotation: replaces %s", countTokens(len(d.Rotates), "token", "")))
	}
	if d.RotatedBy != "" {
		parts = append(parts, "rotation: replaced by sha256:"+shortFP(d.RotatedBy))
	}
	return output.Clean(strings.Join(parts, "; "))
}
