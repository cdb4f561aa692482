// Package jwtinspect decodes JSON Web Tokens offline, pulls out the Woleet
// "cdata" claim, fingerprints tokens and reports what is risky about them. It
// never touches the network: a "jku" or "x5u" header is reported, never
// followed.
//
// Reach for [Parse] first:
//
//	tok, err := jwtinspect.Parse(input)
//	if err != nil {
//		var pe *jwtinspect.ParseError // names the segment and byte offset at fault
//		...
//	}
//	cdata, ok := tok.CData()
//	fmt.Println(tok.Kind, tok.Alg(), cdata, ok, tok.Fingerprint())
//	for _, f := range tok.Findings {
//		fmt.Println(f.Severity, f.ID, f.Message)
//	}
//
// When only the cdata is needed, [CData] gets it without building any map,
// in a fraction of Parse's time, and agrees with Parse on every input. To go
// through many tokens and print their header and claims as JSON text,
// [Summary.Parse] reads everything else Parse reads, again without maps and
// agreeing with Parse, into a [Summary] that it reuses from token to token.
//
// # What is parsed
//
// Parse accepts a compact JWS (three base64url parts; "alg":"none" with an
// empty signature is an unsecured JWT), a compact JWE (five parts: only the
// protected header is decoded, nothing is decrypted), and the JWS and JWE
// JSON serializations, flattened or general (RFC 7515 §7.2, RFC 7516 §7.2).
// The input is first put through [Normalize]: surrounding white space and a
// leading "Bearer " or "Authorization: Bearer " are removed. The
// [Token.Raw] that results is what [Fingerprint] hashes.
//
// Base64url is decoded strictly (RFC 7515 §2: URL alphabet, no padding,
// zero trailing bits). Input that is only non-canonical (padded, using '+'
// or '/', or with non-zero trailing bits) still decodes, but always with a
// non-canonical-base64 finding: such a token is not what its signer produced
// and has a different fingerprint from the canonical one.
//
// JSON is parsed strictly (RFC 8259). Numbers are kept exactly as written,
// as [encoding/json.Number] (1300819380 never becomes 1.30081938e+09).
// When a member name appears twice in an object, the last value wins, as in
// encoding/json and most JWT libraries, and a duplicate-member finding names
// it. Invalid UTF-8 in a string is replaced by U+FFFD, with an invalid-utf8
// finding.
//
// # Errors
//
// Input that cannot be decoded is refused with a [*ParseError], which names
// the segment (header, payload, signature, …), the byte offset in the input
// and the cause, for example "payload: illegal base64url data at byte 57".
// The causes ([ErrEmpty], [ErrTooLarge], [ErrPartCount], [ErrWhitespace],
// [ErrBase64], [ErrInvalidJSON], [ErrHeaderNotObject], [ErrSerialization])
// can be tested with [errors.Is]. Input over the size cap ([DefaultMaxSize],
// changed with [WithMaxSize]) is refused before any decoding. No error
// message ever contains token text.
//
// # Findings
//
// Everything else that is noteworthy becomes a [Finding] in
// [Token.Findings]. The IDs are stable: the CLI prints them and scripts match
// them.
//
//	ID                      severity  meaning
//	`alg-none`              critical  alg is "none" in any letter case: the token is unsigned
//	`alg-missing`           high      the header has no alg
//	`alg-unknown`           medium    alg is not a registered JWS (or, for a JWE, JWE) algorithm, or not a string
//	`none-with-signature`   high      alg is none but a signature is present
//	`crit-unknown`          high      crit lists extensions (this package implements none) or is malformed
//	`kid-suspicious`        high      kid has path traversal, quotes, control characters, SQL or shell syntax, is over 256 bytes, or is not a string
//	`jku-present`           medium    the header names a key set URL (never fetched)
//	`x5u-present`           medium    the header names a certificate URL (never fetched)
//	`jwk-embedded`          high      the header embeds a key
//	`duplicate-member`      medium    a name appears twice in the header, the claims or the JSON serialization, or in both protected and unprotected headers
//	`non-canonical-base64`  medium    a segment is padded, uses '+' or '/', or has non-zero trailing bits
//	`invalid-utf8`          medium    a header or claim string holds invalid UTF-8 (replaced by U+FFFD)
//	`no-expiry`             low       no exp claim: valid until revoked (every Woleet token)
//	`expired`               info      exp is at or before the clock (see WithNow)
//	`not-yet-valid`         info      nbf is after the clock
//	`numeric-date-invalid`  medium    exp, nbf or iat is not a number, or is before 1970 or after 9999
//	`exp-before-iat`        low       the token expired before it was issued
//	`jwe`                   info      a JWE: the payload is encrypted and was not read
//	`not-json-payload`      info      the payload is empty, not JSON, or not a JSON object: there are no claims
//	`cdata-too-long`        low       cdata is over 64 characters, Woleet's limit
//
// [Verify] adds three more to [VerifyResult.Findings]:
//
//	`alg-confusion`         critical  an HS* token was checked against a public key: possible forgery, refused
//	`weak-hmac-key`         high      the HMAC secret is shorter than the hash (RFC 7518 §3.2)
//	`weak-hmac-secret`      critical  the token verifies with a well-known secret (with CheckWeakSecrets)
//
// Findings come in a stable order: the JSON serialization's own members,
// base64, header, claims, then time. [Token.HasFinding] and
// [Token.MaxSeverity] help scripts decide.
//
// # cdata
//
// [Token.CData] and [CData] return the "cdata" claim, matched exactly
// ("CDATA" is another claim). A JSON string gives its value; any other JSON
// value gives its compact JSON text, exactly as written apart from white
// space ({"a": 1} gives {"a":1}). A cdata over [MaxCDataLength] characters
// gets a cdata-too-long finding.
//
// # Verification
//
// [Verify] answers "is this token genuine and valid now?" offline, with
// go-jose v4 doing the cryptography. Keys come from [LoadKeyFile] or
// [ParseKeys] (PEM, JWK, JWK Set) and, for HMAC, from [NewHMACKey],
// [LoadHMACKeyFile] or [HMACKeyFromEnv] with an explicit [SecretEncoding]:
//
//	keys, err := jwtinspect.LoadKeyFile("jwks.json")
//	...
//	res, err := jwtinspect.Verify(tok, keys, jwtinspect.VerifyOptions{})
//	switch {
//	case errors.Is(err, jwtinspect.ErrExpired): // genuine, but expired
//	case err != nil: // not genuine, or no key for it
//	default:
//		fmt.Println("verified by", res.Key, "with", res.Alg, "status", res.Status)
//	}
//
// A key verifies only the algorithms its type allows, narrowed by a JWK's
// own "alg" and by [VerifyOptions.Algorithms]; "none" never verifies. An
// HS* token is never checked against a public key ([ErrAlgConfusion]):
// tools that use a public key file's bytes as an HMAC secret accept a token
// forged that way. An HMAC secret shorter than the hash is refused with
// [ErrWeakHMACKey] rather than a generic cryptographic error.
//
// # Fingerprints
//
// A Woleet token never expires, so it must never be written down. Its
// identity is [Fingerprint]: "sha256:" and the lowercase hex SHA-256 of the
// token as parsed; tables show [ShortFingerprint], its first 12 hex digits.
// [Token.Fingerprint] gives the same value for a parsed token.
package jwtinspect
