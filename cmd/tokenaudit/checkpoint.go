package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// This file holds the commands about signed checkpoints and proofs:
// "ledger keygen", "ledger checkpoint", "ledger prove", "ledger
// check-proof", the checkpoint checks of "ledger verify", and the
// automatic checkpoints of the commands that write to the ledger.

// The environment variables of checkpoints. The signing key is named by
// its file, never given as a value.
const (
	envCheckpointKey      = "TOKENAUDIT_CHECKPOINT_KEY"      // the signing key's file
	envCheckpointEvery    = "TOKENAUDIT_CHECKPOINT_EVERY"    // sign automatically every N events
	envCheckpointVerifier = "TOKENAUDIT_CHECKPOINT_VERIFIER" // a verifier key, or its file
)

// defaultCheckpointEvery is how many events pass between automatic
// checkpoints when only TOKENAUDIT_CHECKPOINT_KEY is set.
const defaultCheckpointEvery = 100

// maxKeyFileSize bounds the key files read.
const maxKeyFileSize = 4 << 10

// checkpointCommands returns the subcommands of "tokenaudit ledger" this
// file defines.
func (a *app) checkpointCommands() []*cobra.Command {
	return []*cobra.Command{
		a.ledgerKeygenCommand(),
		a.ledgerCheckpointCommand(),
		a.ledgerProveCommand(),
		a.ledgerCheckProofCommand(),
	}
}

// keygenRecord is the JSON form of "tokenaudit ledger keygen". It never
// holds the signing key, only where it was written.
type keygenRecord struct {
	Name        string `json:"name"`
	VerifierKey string `json:"verifier_key"`
	KeyFile     string `json:"key_file"`
}

func (a *app) ledgerKeygenCommand() *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "keygen --name NAME [--out FILE]",
		Short: "Generate a key to sign checkpoints with",
		Long: `Generate an Ed25519 key for signing checkpoints, in the signed-note format
of golang.org/x/mod/sumdb/note. The signing key ("PRIVATE+KEY+…") is written
to a new file of mode 0600 (--out, default
$XDG_CONFIG_HOME/tokenaudit/checkpoint.key); an existing file is never
overwritten. The verifier key ("NAME+hash+key"), which is public, goes to
standard output: hand it to whoever checks checkpoints and proofs.

--name names the signer, for example ops.example.com/tokenaudit: no spaces
and no '+'. Keep the signing key away from the ledger's host if you can: a
checkpoint proves only what its signer could not have rewritten.`,
		Example: `  tokenaudit ledger keygen --name ops.example.com/tokenaudit > verifier.pub
  tokenaudit ledger keygen --name ci-signer --out /etc/tokenaudit/checkpoint.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usageErrorf("name the key with --name, for example --name ops.example.com/tokenaudit")
			}
			return a.keygen(name, out)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the signer's name, such as ops.example.com/tokenaudit")
	cmd.Flags().StringVar(&out, "out", "", "write the signing key to this new file (default $XDG_CONFIG_HOME/tokenaudit/checkpoint.key)")
	return cmd
}

// defaultKeyPath is where keygen writes the signing key without --out.
func (a *app) defaultKeyPath() (string, error) {
	if d := a.getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "tokenaudit", "checkpoint.key"), nil
	}
	home := a.getenv("HOME")
	if home == "" {
		return "", withHint(errors.New("cannot choose where to write the key: HOME is not set"), "name the file with --out")
	}
	return filepath.Join(home, ".config", "tokenaudit", "checkpoint.key"), nil
}

// keygen generates the key, writes the signing key to a new 0600 file and
// prints the verifier key.
func (a *app) keygen(name, out string) error {
	skey, vkey, err := audit.GenerateCheckpointKey(rand.Reader, name)
	if err != nil {
		return usageErrorf("--name: %v", tidy(err))
	}
	if out == "" {
		if out, err = a.defaultKeyPath(); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			return fmt.Errorf("create the key's directory: %w", err)
		}
	}
	if err := writeNewFile(out, []byte(skey+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return withHint(fmt.Errorf("%s already exists: not overwriting it", out),
				"a checkpoint key is not replaced lightly: checkpoints signed with it need its verifier key; choose another file with --out")
		}
		return fmt.Errorf("write the signing key: %w", err)
	}
	if a.format.Structured() {
		return a.writeDocument(a.stdout, keygenRecord{Name: name, VerifierKey: vkey, KeyFile: out})
	}
	if _, err := fmt.Fprintln(a.stdout, vkey); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "tokenaudit: wrote the signing key to %s (mode 0600): keep it secret\n", output.Clean(out))
	fmt.Fprintf(a.stderr, "tokenaudit: the verifier key above is public: checkpoints are checked with --verifier or $%s\n", envCheckpointVerifier)
	return nil
}

// writeNewFile creates path with mode 0600, failing if it exists, writes
// b and syncs it. On failure it removes what it created.
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// readKeyFile reads a small key file whole, refusing anything larger
// than a key.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%s is larger than a key (%d bytes at most)", path, maxKeyFileSize)
	}
	return b, nil
}

// loadSigner reads the signing key from path. Its content never appears
// in an error.
func loadSigner(path, what string) (note.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, withHint(fmt.Errorf("%s: the signing key %s can be read by others (mode %04o)", what, path, fi.Mode().Perm()),
			"run: chmod 600 "+path)
	}
	b, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	text := strings.TrimSpace(string(b))
	s, err := note.NewSigner(text)
	if err != nil {
		if _, verr := note.NewVerifier(text); verr == nil {
			return nil, withHint(fmt.Errorf("%s: %s holds a verifier key, not a signing key", what, path),
				`give the file "tokenaudit ledger keygen" wrote (its first line starts with PRIVATE+KEY+)`)
		}
		return nil, fmt.Errorf("%s: %s is not a signing key (PRIVATE+KEY+name+hash+key)", what, path)
	}
	return s, nil
}

// verifierFlags are the trusted verifier keys of a command: --verifier,
// repeatable, or $TOKENAUDIT_CHECKPOINT_VERIFIER.
type verifierFlags struct {
	values []string
}

func (f *verifierFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.values, "verifier", nil,
		"a trusted verifier key (NAME+hash+key), or a file holding one; repeat for several (default $"+envCheckpointVerifier+")")
}

// verifiers returns the trusted keys, and their "name+hash" identities;
// none when no key was given.
func (a *app) verifiers(f verifierFlags) (note.Verifiers, []string, error) {
	values := f.values
	what := "--verifier"
	if len(values) == 0 {
		if v := strings.TrimSpace(a.getenv(envCheckpointVerifier)); v != "" {
			values, what = []string{v}, envCheckpointVerifier
		}
	}
	if len(values) == 0 {
		return nil, nil, nil
	}
	var list []note.Verifier
	var ids []string
	for _, v := range values {
		verifier, err := parseVerifier(what, v)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, verifier)
		ids = append(ids, fmt.Sprintf("%s+%08x", verifier.Name(), verifier.KeyHash()))
	}
	return note.VerifierList(list...), ids, nil
}

// parseVerifier reads a verifier key given as text or as a file. A
// signing key, in either place, is refused without being echoed.
func parseVerifier(what, v string) (note.Verifier, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "PRIVATE+KEY") {
		return nil, withHint(fmt.Errorf("%s is given a signing key, which must stay secret", what),
			"give the verifier key instead (keygen printed it); and since the signing key was in a command line, consider it exposed")
	}
	if verifier, err := note.NewVerifier(v); err == nil {
		return verifier, nil
	}
	b, err := readKeyFile(v)
	if err != nil {
		return nil, withHint(fmt.Errorf("%s %q is neither a verifier key nor a readable file: %w", what, output.Clean(v), err),
			"a verifier key looks like NAME+1234abcd+AY…, as \"tokenaudit ledger keygen\" printed it")
	}
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "PRIVATE+KEY") {
		return nil, withHint(fmt.Errorf("%s: %s holds a signing key, not a verifier key", what, v),
			"give the verifier key, which keygen printed; the signing key must stay with the signer")
	}
	verifier, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %s does not hold a verifier key (NAME+hash+key): %w", what, v, err)
	}
	return verifier, nil
}

// readCheckpointFile reads a signed checkpoint note from a file, or
// standard input for "-". Trailing blank lines (an editor's) are dropped.
func (a *app) readCheckpointFile(path string) ([]byte, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--checkpoint: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, audit.MaxCheckpointSize+1))
	if err != nil {
		return nil, fmt.Errorf("--checkpoint %s: %w", path, err)
	}
	b = append(bytes.TrimRight(b, "\n"), '\n')
	return b, nil
}

// checkpointRecord is the JSON form of a checkpoint.
type checkpointRecord struct {
	ID       int64  `json:"id,omitempty"`
	TS       string `json:"ts,omitempty"`
	Origin   string `json:"origin"`
	TreeSize int64  `json:"tree_size"`
	RootHash string `json:"root_hash"`
	Signer   string `json:"signer,omitempty"`
	Note     string `json:"note"`
}

func (a *app) ledgerCheckpointCommand() *cobra.Command {
	var (
		lf      ledgerFlags
		keyFile string
	)
	cmd := &cobra.Command{
		Use:   "checkpoint [--key FILE]",
		Short: "Sign the ledger's tree head, store the checkpoint and print it",
		Long: `Sign the ledger's current tree head as a checkpoint, store it in the table
checkpoints, and print it. Keep the printed copy away from the ledger (a
ticket, a git repository, another host): "tokenaudit ledger verify
--checkpoint FILE" then shows that the ledger still holds, unchanged, every
event the checkpoint signs, even if the whole file was rewritten since.

A checkpoint is a note in the C2SP tlog-checkpoint format, signed with the
key of "tokenaudit ledger keygen":

  tokenaudit/<ledger id>
  <number of events>
  <root hash, base64>

  — <key name> <signature>

The key file is --key, or $` + envCheckpointKey + `; it must not be readable by
others. To sign one automatically every N events as commands write, set
$` + envCheckpointKey + ` and $` + envCheckpointEvery + ` (default ` + strconv.Itoa(defaultCheckpointEvery) + `).`,
		Example: `  tokenaudit ledger checkpoint --key ~/.config/tokenaudit/checkpoint.key > checkpoint-$(date +%F).txt
  tokenaudit ledger checkpoint --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "--key"
			if keyFile == "" {
				keyFile, what = a.getenv(envCheckpointKey), "$"+envCheckpointKey
			}
			if keyFile == "" {
				return withHint(usageErrorf("name the signing key's file with --key or $%s", envCheckpointKey),
					`"tokenaudit ledger keygen --name NAME" makes one`)
			}
			signer, err := loadSigner(keyFile, what)
			if err != nil {
				return err
			}
			path, err := a.ledgerPath(lf)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); err != nil {
				return withHint(fmt.Errorf("no ledger at %s", path), "name the ledger with --db or TOKENAUDIT_DB")
			}
			l, err := a.openLedger(lf, true)
			if err != nil {
				return err
			}
			defer l.Close()
			return a.checkpoint(cmd.Context(), l, signer)
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the signing key's file (default $"+envCheckpointKey+")")
	lf.register(cmd)
	return cmd
}

// checkpoint signs and stores a checkpoint of l and prints it.
func (a *app) checkpoint(ctx context.Context, l *audit.Ledger, signer note.Signer) error {
	sc, err := l.Checkpoint(ctx, signer)
	if err != nil {
		return ledgerError(err)
	}
	if a.format.Structured() {
		return a.writeDocument(a.stdout, checkpointRecord{ID: sc.ID, TS: formatStamp(sc.TS), Origin: sc.Origin, TreeSize: sc.Size,
			RootHash: fmt.Sprintf("%x", sc.Hash[:]), Signer: sc.Signer, Note: string(sc.Note)})
	}
	if _, err := a.stdout.Write(sc.Note); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "tokenaudit: checkpoint %d signs the ledger's %d events; keep a copy away from the ledger\n", sc.ID, sc.Size)
	return nil
}

// ledgerVerifyCheckpoints is the check "ledger verify" runs against
// checkpoints: those given with --checkpoint, which must be signed by a
// trusted key and extended by the ledger, and, with trusted keys, the
// signatures of the checkpoints the ledger stored.
func (a *app) ledgerVerifyCheckpoints() verifyCheck {
	var (
		files []string
		vf    verifierFlags
		notes [][]byte
		vs    note.Verifiers
		ids   []string
	)
	return verifyCheck{
		register: func(cmd *cobra.Command) {
			cmd.Flags().StringArrayVar(&files, "checkpoint", nil,
				"check that the ledger extends the signed checkpoint in this file (- for standard input); repeatable")
			vf.register(cmd)
			prev := cmd.PreRunE
			// Read the checkpoints and keys before the (long) verification.
			cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
				if prev != nil {
					if err := prev(cmd, args); err != nil {
						return err
					}
				}
				var err error
				if vs, ids, err = a.verifiers(vf); err != nil {
					return err
				}
				if len(files) > 0 && vs == nil {
					return withHint(usageErrorf("--checkpoint needs the verifier key of its signer: give --verifier or $%s", envCheckpointVerifier),
						"a checkpoint whose signature is not checked proves nothing: anyone can write one")
				}
				for _, f := range files {
					msg, err := a.readCheckpointFile(f)
					if err != nil {
						return err
					}
					// A malformed file is a usage error; a bad signature is
					// a finding of the verification, reported with it.
					if _, err := audit.OpenCheckpoint(msg, vs); errors.Is(err, audit.ErrMalformedCheckpoint) {
						return withHint(fmt.Errorf("--checkpoint %s: %w", f, tidy(err)),
							`give the note "tokenaudit ledger checkpoint" printed, signature lines included`)
					}
					notes = append(notes, msg)
				}
				return nil
			}
		},
		run: func(ctx context.Context, l *audit.Ledger, res *ledgerVerifyResult) error {
			fail := func(msg string) {
				res.OK = false
				res.Problems = append(res.Problems, msg)
			}
			for i, msg := range notes {
				name := files[i]
				sc, err := audit.OpenCheckpoint(msg, vs)
				if err != nil {
					if !errors.Is(err, audit.ErrCheckpointSignature) {
						return fmt.Errorf("checkpoint %s: %w", name, tidy(err))
					}
					fail(fmt.Sprintf("checkpoint %s: %v", name, tidy(err)))
					continue
				}
				head, err := l.VerifyCheckpoint(ctx, sc.Checkpoint)
				var ce *audit.ConsistencyError
				switch {
				case errors.Is(err, audit.ErrWrongLedger), errors.As(err, &ce):
					fail(fmt.Sprintf("checkpoint %s: %v", name, tidy(err)))
				case err != nil:
					return ledgerError(fmt.Errorf("checkpoint %s: %w", name, err))
				default:
					res.Checks = append(res.Checks, fmt.Sprintf("checkpoint %s: the %d events signed by %s are intact (the ledger holds %d)",
						name, sc.Size, strings.Join(sc.Signers, ", "), head.Size))
				}
			}
			if vs != nil {
				line, problem, err := storedSignatures(ctx, l, vs, ids)
				if err != nil {
					return ledgerError(err)
				}
				if problem != "" {
					fail(problem)
				}
				if line != "" {
					res.Checks = append(res.Checks, line)
				}
			}
			return nil
		},
	}
}

// checkpointBody returns the text of a signed note: what comes before
// its blank line.
func checkpointBody(msg []byte) []byte {
	if i := bytes.LastIndex(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// storedSignatures checks the signatures of the checkpoints l stored that
// claim to be by a trusted key (ids). Verify has already checked that each
// signs a prefix of the events. It returns a line for the checks, and a
// problem when a trusted key's signature is forged.
func storedSignatures(ctx context.Context, l *audit.Ledger, vs note.Verifiers, ids []string) (line, problem string, err error) {
	var trusted, other int
	var newest *audit.StoredCheckpoint
	for sc, err := range l.Checkpoints(ctx) {
		if err != nil {
			return "", "", err
		}
		if _, err := audit.OpenCheckpoint(sc.Note, vs); err != nil {
			if !slices.Contains(ids, sc.Signer) {
				other++
				continue
			}
			return "", fmt.Sprintf("stored checkpoint %d: %v", sc.ID, tidy(err)), nil
		}
		trusted++
		if newest == nil || sc.Size >= newest.Size {
			newest = &sc
		}
	}
	switch {
	case trusted == 0 && other == 0:
		return "stored checkpoints: none", "", nil
	case trusted == 0:
		return fmt.Sprintf("stored checkpoints: %d, none signed by a trusted key", other), "", nil
	}
	line = fmt.Sprintf("stored checkpoints: %d signed by a trusted key, the newest of %d events", trusted, newest.Size)
	if other > 0 {
		line += fmt.Sprintf("; %d by other keys", other)
	}
	return line, "", nil
}

func (a *app) ledgerProveCommand() *cobra.Command {
	var (
		lf             ledgerFlags
		vf             verifierFlags
		checkpointFile string
	)
	cmd := &cobra.Command{
		Use:   "prove SEQ [--checkpoint FILE]",
		Short: "Print a proof that an event is in a signed checkpoint",
		Long: `Print, as JSON, a proof that event SEQ is in the tree a signed checkpoint
signs: the event, its leaf encoding, its index, the tree size and root hash,
the RFC 6962 audit path and the checkpoint note. "tokenaudit ledger
check-proof" checks it offline, from the proof and the verifier key alone.

The checkpoint is --checkpoint (a file, or - for standard input), else the
newest one the ledger stored. The ledger must still hold the tree it signs
(exit status 5 otherwise). With --verifier, the checkpoint's signature is
checked first. The ledger is opened read-only.`,
		Example: `  tokenaudit ledger prove 41 > event-41.proof.json
  tokenaudit ledger prove 41 --checkpoint checkpoint-2025-06-01.txt --verifier verifier.pub`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{err: fmt.Errorf("%s takes one SEQ, got %d arguments", cmd.CommandPath(), len(args)), cmd: cmd}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || seq < 0 {
				return usageErrorf("SEQ %q is not an event's sequence number (0, 1, 2, …)", output.Clean(args[0]))
			}
			vs, _, err := a.verifiers(vf)
			if err != nil {
				return err
			}
			var msg []byte
			if checkpointFile != "" {
				if msg, err = a.readCheckpointFile(checkpointFile); err != nil {
					return err
				}
			}
			return a.readLedger(lf, func(l *audit.Ledger) error { return a.prove(cmd.Context(), l, seq, msg, vs) })
		},
	}
	cmd.Flags().StringVar(&checkpointFile, "checkpoint", "", "prove against the signed checkpoint in this file (default: the newest stored)")
	vf.register(cmd)
	lf.register(cmd)
	return cmd
}

// prove prints the proof of event seq against the checkpoint msg (nil: the
// newest stored), checking its signature first when vs is set.
func (a *app) prove(ctx context.Context, l *audit.Ledger, seq int64, msg []byte, vs note.Verifiers) error {
	if msg == nil {
		sc, err := l.LatestCheckpoint(ctx)
		if errors.Is(err, audit.ErrNotFound) {
			return withHint(errors.New("the ledger holds no checkpoint to prove against"),
				`sign one with "tokenaudit ledger checkpoint --key FILE", or give one with --checkpoint`)
		}
		if err != nil {
			return ledgerError(err)
		}
		if seq >= sc.Size {
			return withHint(fmt.Errorf("event %d came after the newest checkpoint, which signs events 0 to %d", seq, sc.Size-1),
				`sign a newer one with "tokenaudit ledger checkpoint --key FILE"`)
		}
		msg = sc.Note
	}
	if vs != nil {
		if _, err := audit.OpenCheckpoint(msg, vs); err != nil {
			return checkpointError(err)
		}
	}
	p, err := l.ProveEvent(ctx, seq, msg)
	if err != nil {
		return checkpointError(err)
	}
	if a.format == output.JSONL {
		return output.WriteJSONLine(a.stdout, p)
	}
	return output.WriteJSON(a.stdout, p)
}

// checkpointError rewords an error about a checkpoint or a proof and says
// what it means; other errors go to ledgerError.
func checkpointError(err error) error {
	var ce *audit.ConsistencyError
	switch {
	case errors.As(err, &ce):
		return withHint(tidy(err), "the ledger no longer holds what the checkpoint signed: do not append to it; "+
			"restore it from a backup taken before the change, and find out who could write the file")
	case errors.Is(err, audit.ErrWrongLedger):
		return withHint(tidy(err), "check --db and TOKENAUDIT_DB, and that the checkpoint is this ledger's (see \"tokenaudit ledger info\")")
	case errors.Is(err, audit.ErrCheckpointSignature):
		return withHint(tidy(err), "check --verifier: it must be the verifier key of the key that signed the checkpoint; "+
			"if it is, the checkpoint was forged or altered")
	case errors.Is(err, audit.ErrInvalidProof):
		return withHint(tidy(err), "the proof does not show that the ledger holds this event: it was altered, or made up")
	case errors.Is(err, audit.ErrMalformedCheckpoint):
		return withHint(tidy(err), `give the note "tokenaudit ledger checkpoint" printed, signature lines included`)
	}
	return ledgerError(err)
}

// checkProofRecord is the JSON form of "tokenaudit ledger check-proof".
type checkProofRecord struct {
	OK               bool        `json:"ok"`
	Event            audit.Event `json:"event"`
	TreeSize         int64       `json:"tree_size"`
	RootHash         string      `json:"root_hash"`
	Origin           string      `json:"origin"`
	SignatureChecked bool        `json:"signature_checked"`
	SignedBy         []string    `json:"signed_by"`
}

func (a *app) ledgerCheckProofCommand() *cobra.Command {
	var vf verifierFlags
	cmd := &cobra.Command{
		Use:   "check-proof [FILE|-] [--verifier KEY]",
		Short: "Check a proof of \"ledger prove\" offline, without the ledger",
		Long: `Check, offline and without the ledger, a proof "tokenaudit ledger prove"
printed (from FILE, or standard input): that its leaf is the event it shows,
that the audit path leads from the event's leaf hash to the checkpoint's
root hash (RFC 6962), and, with --verifier (or $` + envCheckpointVerifier + `),
that the checkpoint is signed by that key. Without a verifier key the
signature is not checked, which the output says: anyone can build a tree
that holds any event.

Exit status 0 when the proof checks, 5 when it does not (the event, the
proof or the checkpoint was altered, or another key signed it), 1 when the
file is not a proof.`,
		Example: `  tokenaudit ledger check-proof event-41.proof.json --verifier verifier.pub
  tokenaudit ledger prove 41 | tokenaudit ledger check-proof --verifier "$(cat verifier.pub)"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{err: fmt.Errorf("%s takes one FILE, got %d", cmd.CommandPath(), len(args)), cmd: cmd}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, _, err := a.verifiers(vf)
			if err != nil {
				return err
			}
			path := "-"
			if len(args) == 1 {
				path = args[0]
			}
			return a.checkProof(path, vs)
		},
	}
	vf.register(cmd)
	return cmd
}

// checkProof reads and checks a proof and prints the outcome.
func (a *app) checkProof(path string, vs note.Verifiers) error {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, audit.MaxProofSize+1))
	if err != nil {
		return fmt.Errorf("read the proof: %w", err)
	}
	p, err := audit.ParseProof(b)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", proofName(path), tidy(err)), `give the JSON "tokenaudit ledger prove" printed`)
	}
	rec := checkProofRecord{TreeSize: p.TreeSize, RootHash: fmt.Sprintf("%x", p.RootHash[:]), SignedBy: []string{}}
	if vs == nil {
		rec.Event, err = p.CheckInclusion()
	} else {
		var sc *audit.SignedCheckpoint
		rec.Event, sc, err = p.Check(vs)
		if err == nil {
			rec.SignatureChecked, rec.SignedBy = true, sc.Signers
		}
	}
	if err != nil {
		return checkpointError(fmt.Errorf("%s: %w", proofName(path), err))
	}
	rec.OK = true
	if c, err := audit.ParseCheckpoint(checkpointBody([]byte(p.Checkpoint))); err == nil {
		rec.Origin = c.Origin
	}
	if err := a.writeCheckProof(rec); err != nil {
		return err
	}
	if !rec.SignatureChecked {
		fmt.Fprintf(a.stderr, "tokenaudit: warning: the checkpoint's signature was not checked\n")
		fmt.Fprintf(a.stderr, "tokenaudit: hint: give the signer's verifier key with --verifier or $%s: without it the proof shows only that some tree holds the event\n", envCheckpointVerifier)
	}
	return nil
}

// proofName names the proof's source in messages.
func proofName(path string) string {
	if path == "-" {
		return "the proof on standard input"
	}
	return path
}

// writeCheckProof prints check-proof's outcome.
func (a *app) writeCheckProof(rec checkProofRecord) error {
	if a.format.Structured() {
		return a.writeDocument(a.stdout, rec)
	}
	e := rec.Event
	signed := "NOT CHECKED (no --verifier)"
	if rec.SignatureChecked {
		signed = strings.Join(rec.SignedBy, ", ")
	}
	s := &output.Sheet{Header: []string{"field", "value"}}
	s.Append("status", "valid: the event is in the checkpoint's tree")
	s.Append("seq", strconv.FormatInt(e.Seq, 10))
	s.Append("ts", formatTime(e.TS))
	s.Append("kind", string(e.Kind))
	if e.Fingerprint != "" {
		s.Append("fingerprint", e.Fingerprint)
	}
	s.Append("cdata", e.CData)
	s.Append("actor", e.Actor)
	s.Append("leaf hash", e.LeafHash)
	s.Append("tree size", strconv.FormatInt(rec.TreeSize, 10))
	s.Append("root hash", rec.RootHash)
	s.Append("origin", rec.Origin)
	s.Append("signed by", signed)
	if a.format == output.Table {
		for _, row := range s.Rows {
			fmt.Fprintf(a.stdout, "%-16s %s\n", row[0], output.Clean(row[1]))
		}
		return nil
	}
	return s.Write(a.stdout, a.format)
}

// checkpointOptions returns the options of automatic checkpoints for a
// command that writes to the ledger: with $TOKENAUDIT_CHECKPOINT_KEY set,
// a checkpoint every $TOKENAUDIT_CHECKPOINT_EVERY events.
func (a *app) checkpointOptions() ([]audit.Option, error) {
	keyFile := a.getenv(envCheckpointKey)
	everyText := a.getenv(envCheckpointEvery)
	if keyFile == "" {
		if everyText != "" {
			return nil, withHint(fmt.Errorf("$%s is set but $%s is not", envCheckpointEvery, envCheckpointKey),
				"set "+envCheckpointKey+" to the signing key's file, or unset "+envCheckpointEvery)
		}
		return nil, nil
	}
	every := int64(defaultCheckpointEvery)
	if everyText != "" {
		n, err := strconv.ParseInt(everyText, 10, 64)
		if err != nil || n < 1 {
			return nil, usageErrorf("$%s=%q: want a number of events, at least 1", envCheckpointEvery, output.Clean(everyText))
		}
		every = n
	}
	signer, err := loadSigner(keyFile, "$"+envCheckpointKey)
	if err != nil {
		return nil, err
	}
	return []audit.Option{audit.WithAutoCheckpoint(signer, every)}, nil
}
