package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// verifyFlags are the verify command's flags.
type verifyFlags struct {
	keyFiles, jwksFiles []string
	secretFile          string
	secretEnv           string
	secretEncoding      string
	algs                []string
	leeway              time.Duration
	issuer, audience    string
	weakSecrets         bool
	allSignatures       bool
	payloadFile         string
}

func (a *app) verifyCommand() *cobra.Command {
	var (
		f  verifyFlags
		lf inspectLedgerFlags
	)
	cmd := &cobra.Command{
		Use:   "verify TOKEN --key FILE | --jwks FILE | --secret-file FILE | --secret-env VAR",
		Short: "Check offline that a token is genuine and valid now",
		Long: `Check each token's signature with the keys given, offline, then its time
claims (exp, nbf, iat, with a leeway) and, when asked, its issuer and
audience. Nothing is fetched: a jku or x5u in the token is never followed.

Keys: --key reads PEM (public keys, certificates, private keys, whose public
half is used), a JWK or a JWK Set; --jwks reads a JWK Set; --secret-file and
--secret-env read an HMAC secret (--secret-encoding raw, base64 or base64url).
Each key verifies only the algorithms of its type (RSA: RS*, PS*; EC: its
curve's ES*; Ed25519: EdDSA; an HMAC secret: HS*), narrowed by a JWK's own alg
and by --alg. An HS256 token is never checked against a public key: that is
the algorithm-confusion forgery, and it is refused as such.

A token without exp (every Woleet token) is valid until revoked; verify says
so ("no-expiry").

Exit status: 0 genuine and valid now; 3 the signature is not valid (or no key
fits, or the algorithm is not allowed); 4 genuine but expired or not yet
valid; 1 a key cannot be read; 2 the token is malformed.

` + ledgerKnowsHelp + `

` + tokenInputHelp,
		Example: `  tokenaudit verify --key issuer.pem < token.txt
  tokenaudit verify --jwks jwks.json --alg RS256 --iss https://issuer.example @tokens.txt
  printf '%s\n' "$TOKEN" | tokenaudit verify --secret-env WOLEET_HMAC --secret-encoding base64url -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := a.loadVerifyKeys(f)
			if err != nil {
				return err
			}
			opts := jwtinspect.VerifyOptions{
				Algorithms:           f.algs,
				Leeway:               f.leeway,
				Now:                  a.now,
				Issuer:               f.issuer,
				Audience:             f.audience,
				CheckWeakSecrets:     f.weakSecrets,
				RequireAllSignatures: f.allSignatures,
			}
			if f.leeway == 0 {
				opts.Leeway = -1 // --leeway 0 means none; Verify reads 0 as the default
			}
			if f.payloadFile != "" {
				if opts.DetachedPayload, err = os.ReadFile(f.payloadFile); err != nil {
					return fmt.Errorf("--payload-file: %w", err)
				}
			}
			for _, note := range keys.Skipped {
				fmt.Fprintf(a.stderr, "tokenaudit: note: %s\n", output.Clean(note))
			}
			now := a.now().UTC()
			style := a.style()
			ledger, err := a.openTokenLedger(lf)
			if err != nil {
				return err
			}
			defer ledger.Close()
			ctx := cmd.Context()
			return a.stream(ctx, args, stateless(func(it tokenstream.Item) ([]byte, error) {
				tok, err := jwtinspect.Parse(it.Token, jwtinspect.WithNow(func() time.Time { return now }))
				if err != nil {
					return nil, err
				}
				res, verr := jwtinspect.Verify(tok, keys, opts)
				rec := newInspectRecord(tok, now)
				rec.Verified = newVerifiedRecord(res, verr)
				if res != nil {
					rec.Findings = append(rec.Findings, res.Findings...)
				}
				var out []byte
				if a.format.Structured() {
					out, err = appendInspectJSON(nil, rec, tok)
					if err == nil {
						out, err = ledger.addJSON(ctx, out, 0, it.Token)
					}
				} else {
					out, err = ledger.addText(ctx, renderVerifyText(a.format, it, rec, style), it.Token, a.format, style, false)
				}
				if err != nil {
					return nil, err
				}
				if verr != nil {
					return out, &shownError{err: verr}
				}
				return out, nil
			}))
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keyFiles, "key", nil, "a key file: PEM, JWK or JWK Set (repeatable)")
	fl.StringArrayVar(&f.jwksFiles, "jwks", nil, "a JWK Set file (repeatable)")
	fl.StringVar(&f.secretFile, "secret-file", "", "a file holding an HMAC secret")
	fl.StringVar(&f.secretEnv, "secret-env", "", "the environment variable holding an HMAC secret")
	fl.StringVar(&f.secretEncoding, "secret-encoding", "raw", "how the HMAC secret is written: raw, base64 or base64url")
	fl.StringSliceVar(&f.algs, "alg", nil, "accept only these algorithms (comma-separated or repeated)")
	fl.DurationVar(&f.leeway, "leeway", jwtinspect.DefaultLeeway, "clock skew allowed on exp, nbf and iat")
	fl.StringVar(&f.issuer, "iss", "", "require this issuer (iss claim)")
	fl.StringVar(&f.audience, "aud", "", "require this audience (aud claim)")
	fl.BoolVar(&f.weakSecrets, "check-weak-secrets", false, "also try well-known weak HMAC secrets and report one that verifies")
	fl.BoolVar(&f.allSignatures, "require-all-signatures", false, "a JWS JSON serialization is valid only when every signature verifies")
	fl.StringVar(&f.payloadFile, "payload-file", "", "the detached payload of a token whose payload is detached (RFC 7515 appendix F)")
	lf.register(cmd)
	return a.tokenInputCommand(cmd)
}

// loadVerifyKeys reads every key the flags name.
func (a *app) loadVerifyKeys(f verifyFlags) (*jwtinspect.KeySet, error) {
	enc := jwtinspect.SecretEncoding(f.secretEncoding)
	switch enc {
	case jwtinspect.SecretRaw, jwtinspect.SecretBase64, jwtinspect.SecretBase64URL:
	default:
		return nil, usageErrorf("--secret-encoding %q: want raw, base64 or base64url", f.secretEncoding)
	}
	keys := jwtinspect.NewKeySet()
	for _, path := range append(append([]string{}, f.keyFiles...), f.jwksFiles...) {
		set, err := jwtinspect.LoadKeyFile(path)
		if err != nil {
			return nil, err
		}
		keys.Add(set)
	}
	if f.secretFile != "" {
		k, err := jwtinspect.LoadHMACKeyFile(f.secretFile, enc)
		if err != nil {
			return nil, err
		}
		keys.Add(jwtinspect.NewKeySet(k))
	}
	if f.secretEnv != "" {
		k, err := jwtinspect.HMACKeyFromEnv(f.secretEnv, enc, func(name string) (string, bool) {
			v := a.getenv(name)
			return v, v != ""
		})
		if err != nil {
			return nil, err
		}
		keys.Add(jwtinspect.NewKeySet(k))
	}
	if len(f.keyFiles)+len(f.jwksFiles) == 0 && f.secretFile == "" && f.secretEnv == "" {
		return nil, usageErrorf("verify needs a key: --key FILE, --jwks FILE, --secret-file FILE or --secret-env VAR")
	}
	if len(keys.Keys) == 0 {
		return nil, withHint(errors.New("no usable verification key in the files given"), keys.Skipped...)
	}
	return keys, nil
}

// verifiedRecord is the "verified" member of inspect's JSON, filled by
// verify.
type verifiedRecord struct {
	Valid      bool                         `json:"valid"`
	Genuine    bool                         `json:"genuine"`
	Key        string                       `json:"key,omitempty"`
	Alg        string                       `json:"alg,omitempty"`
	Kid        string                       `json:"kid,omitempty"`
	Status     jwtinspect.ExpiryStatus      `json:"status,omitempty"`
	Error      string                       `json:"error,omitempty"`
	Signatures []jwtinspect.SignatureResult `json:"signatures,omitempty"`
}

func newVerifiedRecord(res *jwtinspect.VerifyResult, err error) *verifiedRecord {
	v := &verifiedRecord{Valid: err == nil}
	if err != nil {
		v.Error = err.Error()
	}
	if res != nil {
		v.Genuine = res.Verified
		v.Key, v.Alg, v.Kid, v.Status = res.Key, res.Alg, res.KeyID, res.Status
		v.Signatures = res.Signatures
	}
	return v
}

// renderVerifyText renders a verification result for people.
func renderVerifyText(format output.Format, it tokenstream.Item, rec *inspectRecord, style output.Style) []byte {
	v := rec.Verified
	s := &output.Sheet{Header: []string{"field", "value"}}
	verdict := "valid: genuine and valid now"
	switch {
	case !v.Genuine:
		verdict = "NOT VALID: the signature does not verify"
	case !v.Valid:
		verdict = "NOT VALID: genuine, but " + string(v.Status)
	}
	s.Append("result", verdict)
	if v.Error != "" {
		s.Append("why", v.Error)
	}
	if v.Genuine {
		s.Append("verified by", v.Key)
		s.Append("algorithm", v.Alg)
	}
	if v.Status != "" {
		status := string(v.Status)
		if v.Status == jwtinspect.ExpiryNone {
			status += ": no exp claim, valid until revoked"
		}
		s.Append("time", status)
	}
	if rec.CData != nil {
		s.Append("cdata", *rec.CData)
	}
	s.Append("fingerprint", rec.Fingerprint)
	for _, sig := range v.Signatures {
		if len(v.Signatures) < 2 {
			break
		}
		res := "verified by " + sig.Key
		if !sig.Verified {
			res = "not verified: " + sig.Error
		}
		s.Append(fmt.Sprintf("signature %d (%s)", sig.Index+1, sig.Alg), res)
	}
	for _, fd := range rec.Findings {
		if fd.ID == jwtinspect.FindingAlgConfusion || fd.ID == jwtinspect.FindingWeakHMACKey || fd.ID == jwtinspect.FindingWeakHMACSecret || fd.Severity.Rank() >= jwtinspect.SeverityHigh.Rank() {
			s.Append("finding", string(fd.Severity)+" "+fd.ID+": "+fd.Message)
		}
	}
	var buf bytes.Buffer
	if format != output.Table {
		s.Write(&buf, format)
		return buf.Bytes()
	}
	mark := style.Good("✓")
	if !v.Valid {
		mark = style.Bad("✗")
	}
	fmt.Fprintf(&buf, "%s %s %s\n", mark, style.Bold(verdict), style.Dim("("+it.Where()+")"))
	for _, row := range s.Rows[1:] {
		fmt.Fprintf(&buf, "  %-12s %s\n", row[0], output.Clean(row[1]))
	}
	return buf.Bytes()
}

// shownError is a failure whose result has already been printed on stdout:
// the stream counts it, but prints no separate error record for it in the
// JSON formats.
type shownError struct {
	err error
}

func (e *shownError) Error() string { return e.err.Error() }
func (e *shownError) Unwrap() error { return e.err }
