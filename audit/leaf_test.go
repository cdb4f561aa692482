package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// leafVector is one file of testdata/leaf: an event, its leaf encoding and
// its leaf hash, for anyone re-implementing the encoding.
type leafVector struct {
	Event    Event  `json:"event"`
	Leaf     string `json:"leaf"`
	LeafHash string `json:"leaf_hash"`
}

func TestLeafVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/leaf/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no leaf vectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v leafVector
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatal(err)
			}
			if err := v.Event.normalize(); err != nil {
				t.Fatal(err)
			}
			if got := string(v.Event.LeafBytes()); got != v.Leaf {
				t.Errorf("LeafBytes() =\n%q\nwant\n%q", got, v.Leaf)
			}
			if got := leafHashHex([]byte(v.Leaf)); got != v.LeafHash {
				t.Errorf("leaf hash = %s, want %s", got, v.LeafHash)
			}
			e, err := ParseLeaf([]byte(v.Leaf))
			if err != nil {
				t.Fatal(err)
			}
			v.Event.LeafHash = v.LeafHash
			if !reflect.DeepEqual(e, v.Event) {
				t.Errorf("ParseLeaf() =\n%+v\nwant\n%+v", e, v.Event)
			}
		})
	}
}

func TestParseLeafRejects(t *testing.T) {
	good := "tokenaudit.event.v1\n1:0,27:2025-01-01T00:00:00.000000Z,15:issue_requested,0:,0:,0:,0:,0:,0:,0:,0:,2:{},"
	if _, err := ParseLeaf([]byte(good)); err != nil {
		t.Fatalf("ParseLeaf(good) = %v", err)
	}
	for name, leaf := range map[string]string{
		"empty":                 "",
		"other prefix":          strings.Replace(good, "v1", "v2", 1),
		"missing column":        strings.TrimSuffix(good, "2:{},"),
		"extra bytes":           good + "x",
		"extra column":          good + "0:,",
		"length too long":       strings.Replace(good, "2:{},", "3:{},", 1),
		"length past end":       strings.Replace(good, "2:{},", "9:{},", 1),
		"leading zero length":   strings.Replace(good, "1:0,", "01:0,", 1),
		"negative length":       strings.Replace(good, "1:0,", "-1:0,", 1),
		"no colon":              "tokenaudit.event.v1\n10",
		"seq leading zero":      strings.Replace(good, "1:0,", "2:00,", 1),
		"seq sign":              strings.Replace(good, "1:0,", "2:+0,", 1),
		"ts without fraction":   strings.Replace(good, "27:2025-01-01T00:00:00.000000Z", "20:2025-01-01T00:00:00Z", 1),
		"ts with offset":        strings.Replace(good, "27:2025-01-01T00:00:00.000000Z", "32:2025-01-01T00:00:00.000000+00:00", 1),
		"ts month 13":           strings.Replace(good, "2025-01-01T", "2025-13-01T", 1),
		"unknown kind":          strings.Replace(good, "15:issue_requested", "15:issue_requestex", 1),
		"detail not compact":    strings.Replace(good, "2:{},", "3:{ },", 1),
		"detail not an object":  strings.Replace(good, "2:{},", "2:[],", 1),
		"status not a status":   strings.Replace(good, "0:,0:,0:,2:{}", "2:42,0:,0:,2:{}", 1),
		"status leading zero":   strings.Replace(good, "0:,0:,0:,2:{}", "4:0200,0:,0:,2:{}", 1),
		"request after itself":  strings.Replace(good, "0:,0:,2:{}", "1:0,0:,2:{}", 1),
		"invalid UTF-8":         strings.Replace(good, "0:,0:,0:,0:,0:,0:,", "1:\xff,0:,0:,0:,0:,0:,", 1),
		"fingerprint malformed": strings.Replace(good, "15:issue_requested,0:", "15:issue_requested,3:abc", 1),
	} {
		if e, err := ParseLeaf([]byte(leaf)); err == nil {
			t.Errorf("%s: ParseLeaf accepted %q as %+v", name, leaf, e)
		}
	}
}

// FuzzParseLeaf checks that the leaf encoding is canonical: whatever
// ParseLeaf accepts, LeafBytes reproduces byte for byte, so two different
// rows can never share a leaf.
func FuzzParseLeaf(f *testing.F) {
	files, _ := filepath.Glob("testdata/leaf/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var v leafVector
		if err := json.Unmarshal(data, &v); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(v.Leaf))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if got := e.LeafBytes(); !bytes.Equal(got, b) {
			t.Fatalf("ParseLeaf(%q) then LeafBytes() = %q", b, got)
		}
		if e.LeafHash != leafHashHex(b) {
			t.Fatalf("LeafHash %s is not the hash of the leaf", e.LeafHash)
		}
		again, err := ParseLeaf(e.LeafBytes())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("re-parse = %+v, %v; want %+v", again, err, e)
		}
	})
}
