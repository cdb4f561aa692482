package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenaudit/tokenaudit/audit"
)

// keygen runs "ledger keygen" into a new file and returns the signing
// key's file and the verifier key.
func keygen(t *testing.T, name string) (keyFile, vkey string) {
	t.Helper()
	keyFile = filepath.Join(t.TempDir(), "checkpoint.key")
	r := cli(t, "", nil, "ledger", "keygen", "--name", name, "--out", keyFile)
	r.want(t, 0, []string{name + "+"}, []string{"tokenaudit: wrote the signing key to " + keyFile})
	return keyFile, strings.TrimSuffix(r.stdout, "\n")
}

// writeFile writes text to a new file in a temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withoutTriggers runs edit on the ledger file with its triggers dropped,
// as someone holding the file could, then puts them back as they were.
func withoutTriggers(t *testing.T, path string, edit func(db *sql.DB)) {
	t.Helper()
	db := writeSQL(t, path)
	rows, err := db.Query("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'")
	if err != nil {
		t.Fatal(err)
	}
	triggers := map[string]string{}
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			t.Fatal(err)
		}
		triggers[name] = text
	}
	rows.Close()
	for name := range triggers {
		mustSQL(t, db, "DROP TRIGGER "+name)
	}
	edit(db)
	for _, text := range triggers {
		mustSQL(t, db, text)
	}
	db.Close()
}

// mustSQL runs a statement or fails the test.
func mustSQL(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rewriteLedger rebuilds the ledger at path with the same events, except
// that edit changes some, every leaf hash and stored hash recomputed and
// the stored checkpoints removed: plain "ledger verify" cannot tell.
func rewriteLedger(t *testing.T, path string, edit func(e *audit.Event)) {
	t.Helper()
	l, err := audit.Open(path, audit.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	for e, err := range l.Events(context.Background(), audit.EventFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		edit(&e)
		events = append(events, e)
	}
	l.Close()
	stored := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(ids []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ids))
		for i, id := range ids {
			out[i] = stored[id]
		}
		return out, nil
	})
	withoutTriggers(t, path, func(db *sql.DB) {
		mustSQL(t, db, "DELETE FROM checkpoints")
		mustSQL(t, db, "DELETE FROM hashes")
		mustSQL(t, db, "DELETE FROM events")
		for _, e := range events {
			hashes, err := tlog.StoredHashes(e.Seq, e.LeafBytes(), reader)
			if err != nil {
				t.Fatal(err)
			}
			blob := []byte{}
			for i, h := range hashes {
				stored[tlog.StoredHashIndex(0, e.Seq)+int64(i)] = h
				blob = append(blob, h[:]...)
			}
			var status, req any
			if e.HTTPStatus != 0 {
				status = e.HTTPStatus
			}
			if e.RequestSeq != nil {
				req = *e.RequestSeq
			}
			// fingerprint_key as the ledger's README describes it: the
			// hash's first 8 hex digits, then its last 8, as a signed integer.
			var key any
			if h := strings.TrimPrefix(e.Fingerprint, "sha256:"); h != "" {
				u, err := strconv.ParseUint(h[:8]+h[len(h)-8:], 16, 64)
				if err != nil {
					t.Fatal(err)
				}
				key = int64(u)
			}
			mustSQL(t, db, `INSERT INTO events (seq, ts, kind, fingerprint, cdata, subject, actor, api_url, http_status, request_seq, error, detail, leaf_hash, fingerprint_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.TS.UTC().Format("2006-01-02T15:04:05.000000Z"), string(e.Kind), e.Fingerprint,
				e.CData, e.Subject, e.Actor, e.APIURL, status, req, e.Error, string(e.Detail), hashes[0][:], key)
			mustSQL(t, db, "INSERT INTO hashes (seq, hashes) VALUES (?, ?)", e.Seq, blob)
		}
	})
}

// cutTail removes the events from seq on, their stored hashes and the
// stored checkpoints: a smaller, self-consistent ledger.
func cutTail(t *testing.T, path string, seq int64) {
	t.Helper()
	withoutTriggers(t, path, func(db *sql.DB) {
		mustSQL(t, db, "DELETE FROM checkpoints")
		mustSQL(t, db, "DELETE FROM events WHERE seq >= ?", seq)
		mustSQL(t, db, "DELETE FROM hashes WHERE seq >= ?", seq)
	})
}

// keyData returns the key material of a signing key file, after
// "PRIVATE+KEY+name+hash+" (base64 may hold '+' too).
func keyData(skey []byte) string {
	parts := strings.SplitN(strings.TrimSpace(string(skey)), "+", 5)
	return parts[len(parts)-1]
}

func TestLedgerKeygen(t *testing.T) {
	keyFile, vkey := keygen(t, "ops.example.com/tokenaudit")
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// The verifier key is NAME+HASH+BASE64, and base64 may hold '+' too.
	if !strings.HasPrefix(string(skey), "PRIVATE+KEY+ops.example.com/tokenaudit+") || !strings.HasPrefix(vkey, "ops.example.com/tokenaudit+") {
		t.Errorf("signing key %.30q…, verifier key %q", skey, vkey)
	}
	if v, err := note.NewVerifier(vkey); err != nil || v.Name() != "ops.example.com/tokenaudit" {
		t.Errorf("verifier key %q does not parse as a note verifier: %v", vkey, err)
	}
	secret := keyData(skey)

	// Never overwritten.
	r := cli(t, "", nil, "ledger", "keygen", "--name", "other", "--out", keyFile)
	r.want(t, 1, nil, []string{"tokenaudit: " + keyFile + " already exists: not overwriting it\n", "hint: a checkpoint key is not replaced lightly"})
	if after, _ := os.ReadFile(keyFile); string(after) != string(skey) {
		t.Error("keygen overwrote an existing key")
	}
	// The default file, and JSON output without the signing key.
	config := t.TempDir()
	r = cli(t, "", []string{"XDG_CONFIG_HOME=" + config}, "ledger", "keygen", "--name", "ci", "--format", "json")
	r.want(t, 0, []string{`"name": "ci"`, `"verifier_key": "ci+`, `"key_file": "` + filepath.Join(config, "tokenaudit", "checkpoint.key") + `"`}, nil)
	def, err := os.ReadFile(filepath.Join(config, "tokenaudit", "checkpoint.key"))
	if err != nil || !strings.HasPrefix(string(def), "PRIVATE+KEY+ci+") {
		t.Errorf("default key file: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, keyData(def)) {
		t.Error("keygen printed the signing key")
	}
	if dir, _ := os.Stat(filepath.Join(config, "tokenaudit")); dir == nil || dir.Mode().Perm() != 0o700 {
		t.Errorf("key directory %v, want mode 0700", dir)
	}
	for _, args := range [][]string{{}, {"--name", "two words"}, {"--name", "a+b"}, {"--name", "x", "extra"}} {
		r := cli(t, "", nil, append([]string{"ledger", "keygen", "--out", filepath.Join(t.TempDir(), "k")}, args...)...)
		r.want(t, 1, nil, []string{"tokenaudit: "})
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Error("a refused keygen printed a key")
		}
	}
}

// checkpointTest is a ledger with a few issued tokens, a signing key and
// its verifier key.
type checkpointTest struct {
	*apiTest
	keyFile, vkey, vkeyFile string
}

func newCheckpointTest(t *testing.T, issues int) *checkpointTest {
	t.Helper()
	ct := &checkpointTest{apiTest: newAPITest(t)}
	for i := range issues {
		ct.issue(t, "cust-"+strconv.Itoa(i))
	}
	ct.keyFile, ct.vkey = keygen(t, "ops.example.com/tokenaudit")
	ct.vkeyFile = writeFile(t, "verifier.pub", ct.vkey+"\n")
	return ct
}

// checkpoint signs a checkpoint and returns the file it was saved to.
func (ct *checkpointTest) checkpoint(t *testing.T) string {
	t.Helper()
	r := ct.run(t, "", "ledger", "checkpoint", "--key", ct.keyFile)
	r.want(t, 0, []string{"tokenaudit/", "\n\n— ops.example.com/tokenaudit "}, []string{"tokenaudit: checkpoint "})
	return writeFile(t, "checkpoint.txt", r.stdout)
}

func TestLedgerCheckpointAndVerify(t *testing.T) {
	ct := newCheckpointTest(t, 2)
	r := ct.run(t, "", "ledger", "info", "--format", "json")
	id := decodeJSON[map[string]any](t, r.stdout)["ledger_id"].(string)
	cp := ct.checkpoint(t)
	text, _ := os.ReadFile(cp)
	if !strings.HasPrefix(string(text), "tokenaudit/"+id+"\n4\n") {
		t.Errorf("checkpoint:\n%s", text)
	}
	if rows := queryRows(t, writeSQL(t, ct.db), "SELECT id, tree_size, signer FROM checkpoints"); len(rows) != 1 ||
		!strings.HasPrefix(rows[0], "1|4|ops.example.com/tokenaudit+") {
		t.Errorf("stored checkpoints: %v", rows)
	}

	intact := []string{"status           intact\n",
		"check            checkpoint " + cp + ": the 4 events signed by ops.example.com/tokenaudit+",
		"are intact (the ledger holds 4)\n",
		"check            stored checkpoints: 1 signed by a trusted key, the newest of 4 events\n"}
	ct.run(t, "", "ledger", "verify", "--checkpoint", cp, "--verifier", ct.vkeyFile).want(t, 0, intact, nil)
	ct.run(t, "", "ledger", "verify", "--checkpoint", cp, "--verifier", ct.vkey).want(t, 0, intact, nil)
	ct.env = append(ct.env, "TOKENAUDIT_CHECKPOINT_VERIFIER="+ct.vkey)
	ct.run(t, "", "ledger", "verify", "--checkpoint", cp).want(t, 0, intact, nil)
	ct.run(t, string(text)+"\n\n", "ledger", "verify", "--checkpoint", "-").want(t, 0, intact[:1], nil)

	// The ledger grows: the checkpoint still holds.
	ct.issue(t, "later")
	ct.run(t, "", "ledger", "verify", "--checkpoint", cp, "--format", "json").want(t, 0,
		[]string{`"ok": true`, `"checks": [`, `are intact (the ledger holds 6)`}, nil)

	// Signed by another key: exit 5.
	_, otherKey := keygen(t, "ops.example.com/tokenaudit")
	r = ct.run(t, "", "ledger", "verify", "--checkpoint", cp, "--verifier", otherKey)
	r.want(t, exitIntegrity, []string{"status           FAILED\n", "problem          checkpoint " + cp + ": checkpoint signature not valid: signed by ops.example.com/tokenaudit+"},
		[]string{"tokenaudit: the ledger fails verification: checkpoint "})
	// Altered after signing: exit 5.
	forged := writeFile(t, "forged.txt", strings.Replace(string(text), "\n4\n", "\n3\n", 1))
	ct.run(t, "", "ledger", "verify", "--checkpoint", forged).want(t, exitIntegrity, []string{"does not match the checkpoint: it is forged, or the checkpoint was altered after signing"}, nil)

	// Another ledger's checkpoint: exit 5.
	other := newAPITest(t)
	other.issue(t, "x")
	r = other.run(t, "", "ledger", "checkpoint", "--key", ct.keyFile)
	otherCP := writeFile(t, "other.txt", r.stdout)
	ct.run(t, "", "ledger", "verify", "--checkpoint", otherCP).want(t, exitIntegrity,
		[]string{"problem          checkpoint " + otherCP + ": the checkpoint is of another ledger: its origin is \"tokenaudit/"}, nil)

	// Usage errors, before any verification.
	for _, tc := range []struct {
		args   []string
		env    []string
		stderr string
	}{
		{[]string{"--checkpoint", cp}, nil, "--checkpoint needs the verifier key of its signer"},
		{[]string{"--checkpoint", writeFile(t, "junk.txt", "hello\n"), "--verifier", ct.vkey}, nil, "malformed checkpoint: not a signed note"},
		{[]string{"--checkpoint", filepath.Join(t.TempDir(), "none.txt"), "--verifier", ct.vkey}, nil, "no such file or directory"},
		{[]string{"--verifier", "nope+1234"}, nil, `--verifier "nope+1234" is neither a verifier key nor a readable file`},
		{[]string{"--verifier", ct.keyFile}, nil, "holds a signing key, not a verifier key"},
		{nil, []string{"TOKENAUDIT_CHECKPOINT_VERIFIER=garbage"}, `TOKENAUDIT_CHECKPOINT_VERIFIER "garbage" is neither`},
	} {
		r := cli(t, "", append([]string{"TOKENAUDIT_DB=" + ct.db}, tc.env...), append([]string{"ledger", "verify"}, tc.args...)...)
		r.want(t, 1, nil, []string{tc.stderr})
		if r.stdout != "" {
			t.Errorf("ledger verify %v printed %q", tc.args, r.stdout)
		}
	}
	skey, _ := os.ReadFile(ct.keyFile)
	r = ct.run(t, "", "ledger", "verify", "--verifier", strings.TrimSpace(string(skey)))
	r.want(t, 1, nil, []string{"--verifier is given a signing key, which must stay secret"})
	if strings.Contains(r.stderr, strings.TrimSpace(string(skey))) {
		t.Error("the signing key was echoed")
	}
	ct.checkNoLeak(t)
}

func TestLedgerCheckpointKeyErrors(t *testing.T) {
	ct := newCheckpointTest(t, 1)
	loose := writeFile(t, "loose.key", "")
	skey, _ := os.ReadFile(ct.keyFile)
	secret := keyData(skey)
	if err := os.WriteFile(loose, skey, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		env    []string
		stderr []string
	}{
		{nil, nil, []string{"name the signing key's file with --key or $TOKENAUDIT_CHECKPOINT_KEY", `"tokenaudit ledger keygen --name NAME" makes one`}},
		{[]string{"--key", loose}, nil, []string{"can be read by others (mode 0644)", "hint: run: chmod 600 " + loose}},
		{[]string{"--key", ct.vkeyFile}, nil, []string{"holds a verifier key, not a signing key"}},
		{[]string{"--key", writeFile(t, "junk.key", "PRIVATE+KEY+x+00000000+AAAA\n")}, nil, []string{"is not a signing key (PRIVATE+KEY+name+hash+key)"}},
		{[]string{"--key", ct.keyFile, "--db", filepath.Join(t.TempDir(), "none.db")}, nil, []string{"no ledger at "}},
		{nil, []string{"TOKENAUDIT_CHECKPOINT_KEY=" + loose}, []string{"$TOKENAUDIT_CHECKPOINT_KEY: the signing key " + loose + " can be read by others"}},
	} {
		r := cli(t, "", append([]string{"TOKENAUDIT_DB=" + ct.db}, tc.env...), append([]string{"ledger", "checkpoint"}, tc.args...)...)
		r.want(t, 1, nil, tc.stderr)
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("ledger checkpoint %v printed the signing key", tc.args)
		}
	}
	// The key from the environment, and JSON output.
	r := cli(t, "", []string{"TOKENAUDIT_DB=" + ct.db, "TOKENAUDIT_CHECKPOINT_KEY=" + ct.keyFile}, "ledger", "checkpoint", "--format", "json")
	rec := decodeJSON[map[string]any](t, r.stdout)
	if r.code != 0 || rec["id"] != 1.0 || rec["tree_size"] != 2.0 || !strings.HasPrefix(rec["signer"].(string), "ops.example.com/tokenaudit+") ||
		!strings.HasPrefix(rec["note"].(string), rec["origin"].(string)+"\n2\n") || len(rec["root_hash"].(string)) != 64 {
		t.Errorf("ledger checkpoint --format json = %d %v", r.code, rec)
	}
}

func TestLedgerVerifyCatchesRewrittenLedger(t *testing.T) {
	ct := newCheckpointTest(t, 3)
	cp := ct.checkpoint(t)
	ct.env = append(ct.env, "TOKENAUDIT_CHECKPOINT_VERIFIER="+ct.vkeyFile)
	rewriteLedger(t, ct.db, func(e *audit.Event) {
		if e.Seq == 1 {
			e.CData = "mallory"
		}
	})
	// Same events but one, all hashes recomputed: plain verify passes.
	ct.run(t, "", "ledger", "verify").want(t, 0, []string{"status           intact\n", "events verified  6\n"}, nil)
	r := ct.run(t, "", "tokens", "--format", "csv")
	if !strings.Contains(r.stdout, "mallory") {
		t.Fatalf("the rewrite did not take:\n%s", r.stdout)
	}
	// The checkpoint kept elsewhere does not.
	r = ct.run(t, "", "ledger", "verify", "--checkpoint", cp)
	r.want(t, exitIntegrity, []string{"status           FAILED\n",
		"problem          checkpoint " + cp + ": the ledger's first 6 events are not those its checkpoint signs: history was rewritten (the ledger holds 6 events)\n"},
		[]string{"tokenaudit: the ledger fails verification: checkpoint "})
	r = ct.run(t, "", "ledger", "verify", "--checkpoint", cp, "--format", "json")
	res := decodeJSON[map[string]any](t, r.stdout)
	if r.code != exitIntegrity || res["ok"] != false || len(res["problems"].([]any)) != 1 {
		t.Errorf("ledger verify --format json = %d %v", r.code, res)
	}
	ct.run(t, "", "ledger", "prove", "0", "--checkpoint", cp).want(t, exitIntegrity, nil,
		[]string{"history was rewritten", "hint: the ledger no longer holds what the checkpoint signed"})
}

func TestLedgerVerifyCatchesTailCut(t *testing.T) {
	ct := newCheckpointTest(t, 3)
	cp := ct.checkpoint(t)
	ct.env = append(ct.env, "TOKENAUDIT_CHECKPOINT_VERIFIER="+ct.vkey)
	// Left in place, the stored checkpoint betrays a cut to plain verify.
	naive := filepath.Join(t.TempDir(), "naive.db")
	copyLedger(t, ct.db, naive)
	withoutTriggers(t, naive, func(db *sql.DB) {
		mustSQL(t, db, "DELETE FROM events WHERE seq >= 4")
		mustSQL(t, db, "DELETE FROM hashes WHERE seq >= 4")
	})
	ct.run(t, "", "ledger", "verify", "--db", naive).want(t, exitIntegrity,
		[]string{"problem          ledger integrity: checkpoint 1 signs 6 events, but the ledger holds 4: events were removed from the end\n"}, nil)
	// Removed too, only the checkpoint kept elsewhere does.
	cutTail(t, ct.db, 4)
	ct.run(t, "", "ledger", "verify").want(t, 0, []string{"status           intact\n", "events verified  4\n",
		"check            stored checkpoints: none\n"}, nil)
	ct.run(t, "", "ledger", "verify", "--checkpoint", cp).want(t, exitIntegrity,
		[]string{"problem          checkpoint " + cp + ": the ledger holds 4 events, fewer than the 6 its checkpoint signs: events were removed from the end\n"}, nil)
}

func TestLedgerProveAndCheckProof(t *testing.T) {
	ct := newCheckpointTest(t, 2)
	ct.run(t, "", "ledger", "prove", "1").want(t, 1, nil, []string{"tokenaudit: the ledger holds no checkpoint to prove against\n",
		`hint: sign one with "tokenaudit ledger checkpoint --key FILE", or give one with --checkpoint`})
	cp := ct.checkpoint(t)
	ct.issue(t, "later")

	r := ct.run(t, "", "ledger", "prove", "1")
	r.want(t, 0, []string{`"format": "tokenaudit.proof.v1"`, `"leaf_index": 1`, `"tree_size": 4`, `"kind": "issue"`, `"cdata": "cust-0"`}, nil)
	proofFile := writeFile(t, "event-1.proof.json", r.stdout)
	p, err := audit.ParseProof([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if cpText, _ := os.ReadFile(cp); p.Checkpoint != string(cpText) {
		t.Errorf("the proof's checkpoint is not the stored one:\n%s", p.Checkpoint)
	}
	// Against a checkpoint file, with its signature checked first.
	ct.run(t, "", "ledger", "prove", "2", "--checkpoint", cp, "--verifier", ct.vkey, "--format", "jsonl").want(t, 0, []string{`"leaf_index":2,`}, nil)
	ct.run(t, "", "ledger", "prove", "5").want(t, 1, nil, []string{"event 5 came after the newest checkpoint, which signs events 0 to 3",
		`hint: sign a newer one with "tokenaudit ledger checkpoint --key FILE"`})
	ct.run(t, "", "ledger", "prove", "9", "--checkpoint", cp).want(t, 1, nil, []string{"no event with seq 9 (the ledger holds 6)"})
	ct.run(t, "", "ledger", "prove", "x").want(t, 1, nil, []string{`SEQ "x" is not an event's sequence number`})
	_, otherKey := keygen(t, "ops.example.com/tokenaudit")
	ct.run(t, "", "ledger", "prove", "1", "--verifier", otherKey).want(t, exitIntegrity, nil, []string{"checkpoint signature not valid"})

	// Offline: no ledger in the environment at all.
	offline := func(stdin string, args ...string) result {
		return cli(t, stdin, nil, append([]string{"ledger", "check-proof"}, args...)...)
	}
	valid := []string{"status           valid: the event is in the checkpoint's tree\n", "seq              1\n", "kind             issue\n",
		"cdata            cust-0\n", "tree size        4\n", "origin           tokenaudit/"}
	r = offline("", proofFile, "--verifier", ct.vkey)
	r.want(t, 0, append(valid, "signed by        ops.example.com/tokenaudit+"), nil)
	if r.stderr != "" {
		t.Errorf("check-proof wrote to stderr: %q", r.stderr)
	}
	r = offline(string(mustRead(t, proofFile)), "--format", "json", "--verifier", ct.vkeyFile)
	rec := decodeJSON[map[string]any](t, r.stdout)
	if r.code != 0 || rec["ok"] != true || rec["signature_checked"] != true || rec["event"].(map[string]any)["seq"] != 1.0 {
		t.Errorf("check-proof --format json = %d %v", r.code, rec)
	}
	offline(string(mustRead(t, proofFile)), "-").want(t, 0, append(valid, "signed by        NOT CHECKED (no --verifier)\n"),
		[]string{"tokenaudit: warning: the checkpoint's signature was not checked\n"})

	// Altered proofs: exit 5.
	proof := string(mustRead(t, proofFile))
	for _, tc := range []struct{ name, text, stderr string }{
		{"event cdata", strings.Replace(proof, `"cdata": "cust-0"`, `"cdata": "mallory"`, 2), "the event's cdata is not the one in the leaf"},
		{"leaf index", strings.Replace(proof, `"leaf_index": 1`, `"leaf_index": 2`, 1), "the leaf is event 1, but the proof is for leaf index 2"},
		{"tree size", strings.Replace(proof, `"tree_size": 4`, `"tree_size": 3`, 1), "the tree size or root hash is not the checkpoint's"},
		{"proof hash", alterFirstProofHash(t, proof), "the audit path does not lead from event 1"},
	} {
		offline(tc.text, "--verifier", ct.vkey).want(t, exitIntegrity, nil, []string{tc.stderr,
			"hint: the proof does not show that the ledger holds this event"})
	}
	offline(proof, "--verifier", otherKey).want(t, exitIntegrity, nil, []string{"checkpoint signature not valid: signed by ops.example.com/tokenaudit+"})
	offline("not json", "--verifier", ct.vkey).want(t, 1, nil, []string{"the proof on standard input: proof: not a JSON proof"})
	offline("", filepath.Join(t.TempDir(), "none.json")).want(t, 1, nil, []string{"no such file or directory"})
	offline("", "a", "b").want(t, 1, nil, []string{"takes one FILE, got 2"})
}

// mustRead reads a file or fails the test.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alterFirstProofHash returns the proof with one bit of its first audit
// path hash flipped.
func alterFirstProofHash(t *testing.T, proof string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(proof), &m); err != nil {
		t.Fatal(err)
	}
	hashes := m["proof"].([]any)
	h, err := tlog.ParseHash(hashes[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	h[5] ^= 4
	hashes[0] = h.String()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAutomaticCheckpoints(t *testing.T) {
	ct := newCheckpointTest(t, 0)
	base := ct.env
	ct.env = append(base, "TOKENAUDIT_CHECKPOINT_KEY="+ct.keyFile, "TOKENAUDIT_CHECKPOINT_EVERY=2")
	for i := range 3 {
		ct.issue(t, "auto-"+strconv.Itoa(i)) // two events each
	}
	if rows := queryRows(t, writeSQL(t, ct.db), "SELECT id, tree_size FROM checkpoints ORDER BY id"); strings.Join(rows, " ") != "1|2 2|4 3|6" {
		t.Errorf("automatic checkpoints: %v, want at 2, 4 and 6 events", rows)
	}
	ct.env = append(base, "TOKENAUDIT_CHECKPOINT_VERIFIER="+ct.vkey)
	ct.run(t, "", "ledger", "verify").want(t, 0, []string{"check            stored checkpoints: 3 signed by a trusted key, the newest of 6 events\n"}, nil)

	// Misconfigured: the write is refused before the API is asked.
	live := ct.live()
	for _, tc := range []struct {
		env    []string
		stderr string
	}{
		{[]string{"TOKENAUDIT_CHECKPOINT_EVERY=5"}, "$TOKENAUDIT_CHECKPOINT_EVERY is set but $TOKENAUDIT_CHECKPOINT_KEY is not"},
		{[]string{"TOKENAUDIT_CHECKPOINT_KEY=" + ct.keyFile, "TOKENAUDIT_CHECKPOINT_EVERY=0"}, `$TOKENAUDIT_CHECKPOINT_EVERY="0": want a number of events, at least 1`},
		{[]string{"TOKENAUDIT_CHECKPOINT_KEY=" + ct.vkeyFile}, "holds a verifier key, not a signing key"},
	} {
		ct.env = append(base, tc.env...)
		ct.run(t, "", "issue", "--cdata", "refused").want(t, 1, nil, []string{tc.stderr})
	}
	if ct.live() != live {
		t.Errorf("a refused issue asked the API for a token: %d live, want %d", ct.live(), live)
	}
	ct.checkNoLeak(t)
}
