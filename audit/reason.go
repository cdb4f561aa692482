package audit

import (
	"encoding/json"
)

// maxReason bounds a reason as recorded, in bytes (see [recordableText]).
const maxReason = 1 << 10

// recordableReason returns a reason given by a person in the form the
// ledger records it: as untrusted text (see [recordableText]), cut to
// maxReason bytes.
func recordableReason(reason string) string {
	r, _ := recordableText(reason)
	return truncate(r, maxReason)
}

// addDetail returns detail (a JSON object, or empty for none) with the
// members of extra added, those with an empty value left out. A reason is
// recorded in the form recordableReason gives.
func addDetail(detail json.RawMessage, extra map[string]any) json.RawMessage {
	m := map[string]any{}
	for k, v := range extra {
		switch v := v.(type) {
		case string:
			if v == "" {
				continue
			}
			if k == "reason" {
				m[k] = recordableReason(v)
				continue
			}
		case []string:
			if len(v) == 0 {
				continue
			}
		}
		m[k] = v
	}
	if len(m) == 0 {
		return detail
	}
	if len(detail) > 0 {
		var old map[string]json.RawMessage
		if err := json.Unmarshal(detail, &old); err == nil {
			for k, v := range old {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
	}
	return detailJSON(m)
}
