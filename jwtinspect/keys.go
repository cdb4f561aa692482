package jwtinspect

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// KeyType is the family of a verification key.
type KeyType string

// Key types.
const (
	KeyRSA     KeyType = "RSA"
	KeyEC      KeyType = "EC"
	KeyEd25519 KeyType = "Ed25519"
	KeyHMAC    KeyType = "HMAC"
)

// Key is one verification key: a public key (RSA, EC P-256/P-384/P-521 or
// Ed25519) or an HMAC secret. Private keys are loaded as their public half.
// Bytes become an HMAC secret only when the caller says so ([NewHMACKey],
// a JWK of kty "oct"): a PEM file is never used as a secret, which is what
// defeats the HS256-with-a-public-key forgery.
type Key struct {
	// ID is the key's "kid", or "" when it has none.
	ID string
	// Alg is the key's own "alg" (from a JWK), which narrows the algorithms
	// it verifies; "" when it has none.
	Alg string
	// Description says which key this is, for results and errors, such as
	// "key 2 of jwks.json (RSA 2048)"; it never contains secret material.
	Description string

	material any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// KeySet is the keys a token may be verified with.
type KeySet struct {
	// Keys are tried in order.
	Keys []*Key
	// Skipped says, one line each, which keys were left out while loading
	// and why (an unsupported key type, a key for encryption only, …).
	Skipped []string
}

// NewKeySet returns a key set holding keys.
func NewKeySet(keys ...*Key) *KeySet { return &KeySet{Keys: keys} }

// Add appends the keys and notes of other to s.
func (s *KeySet) Add(other *KeySet) {
	s.Keys = append(s.Keys, other.Keys...)
	s.Skipped = append(s.Skipped, other.Skipped...)
}

// Type returns the key's family.
func (k *Key) Type() KeyType {
	switch k.material.(type) {
	case *rsa.PublicKey:
		return KeyRSA
	case *ecdsa.PublicKey:
		return KeyEC
	case ed25519.PublicKey:
		return KeyEd25519
	}
	return KeyHMAC
}

// Public returns the public key, or nil for an HMAC secret.
func (k *Key) Public() crypto.PublicKey {
	if k.Type() == KeyHMAC {
		return nil
	}
	return k.material
}

// Size returns the key's size in bits: the RSA modulus, the EC curve, 256
// for Ed25519, or eight times the HMAC secret's length.
func (k *Key) Size() int {
	switch m := k.material.(type) {
	case *rsa.PublicKey:
		return m.N.BitLen()
	case *ecdsa.PublicKey:
		return m.Curve.Params().BitSize
	case ed25519.PublicKey:
		return 256
	case []byte:
		return 8 * len(m)
	}
	return 0
}

// String returns the Description.
func (k *Key) String() string { return k.Description }

// Algorithms returns the JWS algorithms the key can verify: by type (RSA:
// RS* and PS*; EC: the curve's ES*; Ed25519: EdDSA; HMAC: HS*),
// narrowed to its own Alg when it has one. "none" is never among them.
func (k *Key) Algorithms() []string {
	algs := k.typeAlgorithms()
	if k.Alg != "" {
		if !slices.Contains(algs, k.Alg) {
			return nil
		}
		return []string{k.Alg}
	}
	return algs
}

// typeAlgorithms returns the algorithms the key's type allows.
func (k *Key) typeAlgorithms() []string {
	var algs []string
	switch m := k.material.(type) {
	case *rsa.PublicKey:
		algs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch m.Curve {
		case elliptic.P256():
			algs = []string{"ES256"}
		case elliptic.P384():
			algs = []string{"ES384"}
		case elliptic.P521():
			algs = []string{"ES512"}
		}
	case ed25519.PublicKey:
		algs = []string{"EdDSA"}
	case []byte:
		algs = []string{"HS256", "HS384", "HS512"}
	}
	return algs
}

// kindOf describes a key's type and size, as "RSA 2048" or "EC P-256".
func kindOf(k *Key) string {
	switch m := k.material.(type) {
	case *ecdsa.PublicKey:
		return "EC " + m.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case []byte:
		return fmt.Sprintf("HMAC, %d bytes", len(m))
	}
	return fmt.Sprintf("RSA %d", k.Size())
}

// newKey makes a Key from a public key or secret, or says why it cannot.
func newKey(material any, id, alg string) (*Key, error) {
	switch m := material.(type) {
	case *rsa.PrivateKey:
		material = &m.PublicKey
	case *ecdsa.PrivateKey:
		material = &m.PublicKey
	case ed25519.PrivateKey:
		material = m.Public()
	}
	k := &Key{ID: id, Alg: alg, material: material}
	switch m := material.(type) {
	case *rsa.PublicKey, ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if alg == "" && len(k.Algorithms()) == 0 {
			return nil, fmt.Errorf("EC curve %s is not used by JWS", m.Curve.Params().Name)
		}
	case []byte:
		if len(m) == 0 {
			return nil, errors.New("the HMAC secret is empty")
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", material)
	}
	if len(k.Algorithms()) == 0 {
		return nil, fmt.Errorf("its alg %q is not a signature algorithm for a %s key", alg, k.Type())
	}
	return k, nil
}

// LoadKeyFile reads verification keys from a file: PEM (public keys,
// certificates, private keys), a JWK or a JWK Set. See [ParseKeys].
func LoadKeyFile(path string) (*KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return ParseKeys(data, path)
}

// ParseKeys reads verification keys from PEM, a JWK or a JWK Set (RFC
// 7517); source names where they came from in descriptions and errors.
//
// PEM blocks may be SPKI public keys ("PUBLIC KEY"), PKCS #1 RSA public keys,
// X.509 certificates, or private keys (PKCS #1, PKCS #8, SEC 1), whose
// public half is used. A key that cannot verify JWS signatures (an X25519 or
// P-224 key, an unknown JWK type, a JWK whose "use" is "enc") is skipped
// with a note in [KeySet.Skipped], not a failure of the whole set; finding
// no usable key at all is an error.
func ParseKeys(data []byte, source string) (*KeySet, error) {
	trimmed := bytes.TrimSpace(data)
	var set *KeySet
	var err error
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")):
		set, err = parseJWKs(trimmed, source)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		set, err = parsePEM(trimmed, source)
	default:
		return nil, fmt.Errorf("%s: not PEM, a JWK or a JWK Set (an HMAC secret must be given as one)", source)
	}
	if err != nil {
		return nil, err
	}
	if len(set.Keys) == 0 {
		msg := fmt.Sprintf("%s: no usable verification key", source)
		if len(set.Skipped) > 0 {
			msg += " (" + strings.Join(set.Skipped, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	return set, nil
}

// describe sets a key's description: "key 2 of source (RSA 2048)" for the
// second key of a set (n = 2), "source (RSA 2048)" for a lone key (n = 0).
func describe(k *Key, n int, source string) {
	if n == 0 {
		k.Description = fmt.Sprintf("%s (%s)", source, kindOf(k))
	} else {
		k.Description = fmt.Sprintf("key %d of %s (%s)", n, source, kindOf(k))
	}
}

func parsePEM(data []byte, source string) (*KeySet, error) {
	set := &KeySet{}
	for n := 1; ; n++ {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		skip := func(why string) {
			set.Skipped = append(set.Skipped, fmt.Sprintf("PEM block %d (%s) of %s: %s", n, block.Type, source, why))
		}
		if _, ok := block.Headers["DEK-Info"]; ok {
			skip("encrypted PEM is not supported")
			continue
		}
		var material any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			material, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			material, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				material = cert.PublicKey
			}
		case "RSA PRIVATE KEY":
			material, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			material, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			material, err = x509.ParseECPrivateKey(block.Bytes)
		case "EC PARAMETERS":
			continue // written by openssl ecparam before the key
		default:
			skip("not a key")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d (%s): %w", source, n, block.Type, err)
		}
		k, err := newKey(material, "", "")
		if err != nil {
			skip(err.Error())
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 && len(set.Skipped) == 0 {
		return nil, fmt.Errorf("%s: no PEM block found", source)
	}
	for i, k := range set.Keys {
		if len(set.Keys) == 1 {
			i = -1
		}
		describe(k, i+1, source)
	}
	return set, nil
}

// jwkMeta holds the JWK members that go-jose does not expose.
type jwkMeta struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
}

func parseJWKs(data []byte, source string) (*KeySet, error) {
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: not a valid JWK or JWK Set: %w", source, err)
	}
	set := &KeySet{}
	if probe.Keys == nil { // a lone JWK
		k, err := parseJWK(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		describe(k, 0, source)
		set.Keys = append(set.Keys, k)
		return set, nil
	}
	for i, raw := range probe.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			set.Skipped = append(set.Skipped, fmt.Sprintf("key %d of %s: %v", i+1, source, err))
			continue
		}
		describe(k, i+1, source)
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// parseJWK reads one JWK with go-jose, after checking what go-jose ignores.
func parseJWK(data []byte) (*Key, error) {
	var meta jwkMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("not a valid JWK: %w", err)
	}
	label := meta.Kty
	if meta.Crv != "" {
		label += " " + meta.Crv
	}
	if meta.Use != "" && meta.Use != "sig" {
		return nil, fmt.Errorf("%s key is for use %q, not signatures", label, meta.Use)
	}
	if meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify") {
		return nil, fmt.Errorf("%s key's key_ops do not include verify", label)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("unsupported or invalid %s key: %w", label, err)
	}
	k, err := newKey(jwk.Key, jwk.KeyID, jwk.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", label, err)
	}
	return k, nil
}

// SecretEncoding says how an HMAC secret is written down.
type SecretEncoding string

// Secret encodings.
const (
	SecretRaw       SecretEncoding = "raw"       // the bytes as they are, nothing trimmed
	SecretBase64    SecretEncoding = "base64"    // standard base64, padded or not; surrounding white space ignored
	SecretBase64URL SecretEncoding = "base64url" // base64url, padded or not; surrounding white space ignored
)

// DecodeSecret decodes an HMAC secret written in enc.
func DecodeSecret(text []byte, enc SecretEncoding) ([]byte, error) {
	var b64 *base64.Encoding
	switch enc {
	case SecretRaw:
		return bytes.Clone(text), nil
	case SecretBase64:
		b64 = base64.RawStdEncoding
	case SecretBase64URL:
		b64 = base64.RawURLEncoding
	default:
		return nil, fmt.Errorf("unknown secret encoding %q (want raw, base64 or base64url)", enc)
	}
	s := strings.TrimRight(string(bytes.TrimSpace(text)), "=")
	secret, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("secret is not %s: %w", enc, err)
	}
	return secret, nil
}

// NewHMACKey makes an HMAC verification key from a secret written in enc;
// source (a file name, "$VAR") names it in descriptions.
func NewHMACKey(text []byte, enc SecretEncoding, source string) (*Key, error) {
	secret, err := DecodeSecret(text, enc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	k, err := newKey(secret, "", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	k.Description = fmt.Sprintf("HMAC secret from %s (%d bytes)", source, len(secret))
	return k, nil
}

// LoadHMACKeyFile reads an HMAC secret written in enc from a file.
func LoadHMACKeyFile(path string, enc SecretEncoding) (*Key, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	return NewHMACKey(text, enc, path)
}

// HMACKeyFromEnv reads an HMAC secret written in enc from the environment
// variable name, looked up with lookup (nil means os.LookupEnv).
func HMACKeyFromEnv(name string, enc SecretEncoding, lookup func(string) (string, bool)) (*Key, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("environment variable %s is not set", name)
	}
	return NewHMACKey([]byte(v), enc, "$"+name)
}
