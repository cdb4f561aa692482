package jwtinspect

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// must returns v, or panics on a setup failure (test code only).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// signWith signs a token with go-jose.
func signWith(tb testing.TB, alg jose.SignatureAlgorithm, key any) string {
	tb.Helper()
	signer := must(jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil))
	obj := must(signer.Sign([]byte(woleetClaims)))
	return must(obj.CompactSerialize())
}

// TestPEMKeys loads every PEM form and verifies a token signed by its key.
func TestPEMKeys(t *testing.T) {
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "woleet test"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	cert := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey))
	ecSEC1 := must(x509.MarshalECPrivateKey(ecKey))

	tests := []struct {
		name  string
		pem   string
		typ   KeyType
		desc  string
		alg   jose.SignatureAlgorithm
		priv  crypto.Signer
		nkeys int
	}{
		{"SPKI RSA", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))), KeyRSA, "k.pem (RSA 2048)", jose.PS384, rsaKey, 1},
		{"PKCS#1 RSA public", pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), KeyRSA, "k.pem (RSA 2048)", jose.RS256, rsaKey, 1},
		{"PKCS#1 RSA private", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), KeyRSA, "k.pem (RSA 2048)", jose.RS512, rsaKey, 1},
		{"PKCS#8 RSA private", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(rsaKey))), KeyRSA, "k.pem (RSA 2048)", jose.RS256, rsaKey, 1},
		{"SPKI EC", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))), KeyEC, "k.pem (EC P-384)", jose.ES384, ecKey, 1},
		{"certificate", pemBlock("CERTIFICATE", cert), KeyEC, "k.pem (EC P-384)", jose.ES384, ecKey, 1},
		{"SEC 1 EC private, after EC PARAMETERS", pemBlock("EC PARAMETERS", []byte{6, 5, 43, 129, 4, 0, 34}) + pemBlock("EC PRIVATE KEY", ecSEC1),
			KeyEC, "k.pem (EC P-384)", jose.ES384, ecKey, 1},
		{"PKCS#8 EC private", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ecKey))), KeyEC, "k.pem (EC P-384)", jose.ES384, ecKey, 1},
		{"PKCS#8 Ed25519 private", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(edKey))), KeyEd25519, "k.pem (Ed25519)", jose.EdDSA, edKey, 1},
		{"SPKI Ed25519", "junk before\n" + pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(edKey.Public()))), KeyEd25519, "k.pem (Ed25519)", jose.EdDSA, edKey, 1},
		{"two keys", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))) + pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)),
			KeyEC, "key 1 of k.pem (EC P-384)", jose.RS256, rsaKey, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseKeys([]byte(tc.pem), "k.pem")
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != tc.nkeys || set.Keys[0].Type() != tc.typ || set.Keys[0].Description != tc.desc {
				t.Fatalf("%d keys, first %s %q", len(set.Keys), set.Keys[0].Type(), set.Keys[0].Description)
			}
			if set.Keys[0].Public() == nil {
				t.Error("a public key has no Public()")
			}
			res, err := Verify(mustParse(t, signWith(t, tc.alg, tc.priv)), set, VerifyOptions{})
			if err != nil || res.Alg != string(tc.alg) {
				t.Errorf("verify %s: %v", tc.alg, err)
			}
		})
	}
}

func TestKeyFileErrors(t *testing.T) {
	x25519 := must(ecdh.X25519().GenerateKey(rand.Reader))
	p224 := must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader))
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	tests := []struct {
		name, data, want string
	}{
		{"not a key", "hello", "k: not PEM, a JWK or a JWK Set"},
		{"X25519", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(x25519.PublicKey()))), "no usable verification key (PEM block 1 (PUBLIC KEY) of k: unsupported key type *ecdh.PublicKey)"},
		{"P-224", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&p224.PublicKey))), "EC curve P-224 is not used by JWS"},
		{"encrypted", encrypted, "encrypted PEM is not supported"},
		{"certificate request", pemBlock("CERTIFICATE REQUEST", []byte{1}), "not a key"},
		{"bad DER", pemBlock("PUBLIC KEY", []byte{1, 2, 3}), "k: PEM block 1 (PUBLIC KEY): asn1: "},
		{"no block", "-----BEGIN PUBLIC KEY-----\nnot closed", "no PEM block found"},
		{"bad JSON", `{"kty":`, "k: not a valid JWK or JWK Set"},
		{"unknown kty", `{"kty":"foo"}`, "unsupported or invalid foo key"},
		{"enc key", `{"kty":"oct","use":"enc","k":"` + b64(secret32) + `"}`, `oct key is for use "enc"`},
		{"no verify op", `{"kty":"oct","key_ops":["sign"],"k":"` + b64(secret32) + `"}`, "key_ops do not include verify"},
		{"JWE alg", `{"kty":"oct","alg":"A128KW","k":"` + b64(secret32) + `"}`, `alg "A128KW" is not a signature algorithm for a HMAC key`},
		{"empty set", `{"keys":[]}`, "k: no usable verification key"},
		{"empty oct", `{"kty":"oct","k":""}`, "k:"},
	}
	for _, tc := range tests {
		_, err := ParseKeys([]byte(tc.data), "k")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.HasPrefix(err.Error(), "read key file: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestJWKKeys(t *testing.T) {
	// A private JWK gives its public half, with its kid.
	set := mustKeys(t, "rfc7520_4.1.jwk")
	k := set.Keys[0]
	if k.Type() != KeyRSA || k.ID != "bilbo.baggins@hobbiton.example" || k.Size() != 2048 {
		t.Errorf("key %s %q %d", k.Type(), k.ID, k.Size())
	}
	if _, isPub := k.Public().(*rsa.PublicKey); !isPub {
		t.Errorf("Public() is %T", k.Public())
	}
	// RFC 7517 A.1: an EC key for encryption (skipped) and an RS256 key.
	set = mustKeys(t, "rfc7517_A.1.jwkset")
	if len(set.Keys) != 1 || set.Keys[0].Alg != "RS256" || set.Keys[0].ID != "2011-04-29" || len(set.Skipped) != 1 {
		t.Errorf("keys %+v skipped %q", set.Keys, set.Skipped)
	}
	if got := set.Keys[0].Algorithms(); len(got) != 1 || got[0] != "RS256" {
		t.Errorf("Algorithms() = %q", got)
	}
	// An oct JWK is an HMAC secret.
	set = mustKeys(t, "rfc7515_A.1.jwk")
	if k := set.Keys[0]; k.Type() != KeyHMAC || k.Size() != 512 || k.Public() != nil ||
		k.String() != "testdata/vectors/rfc7515_A.1.jwk (HMAC, 64 bytes)" {
		t.Errorf("key %s %d %q", k.Type(), k.Size(), k)
	}
	// Descriptions in a set.
	set = mustKeys(t, "rfc7515_A.6.jwkset")
	if set.Keys[1].Description != "key 2 of testdata/vectors/rfc7515_A.6.jwkset (EC P-256)" {
		t.Errorf("description %q", set.Keys[1].Description)
	}
	if got := set.Keys[0].Algorithms(); len(got) != 6 {
		t.Errorf("RSA Algorithms() = %q", got)
	}
	all := NewKeySet()
	all.Add(set)
	all.Add(&KeySet{Skipped: []string{"x"}})
	if len(all.Keys) != 2 || len(all.Skipped) != 1 {
		t.Errorf("Add: %d keys %d notes", len(all.Keys), len(all.Skipped))
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		text string
		enc  SecretEncoding
		want string
		err  string
	}{
		{"s3cr3t\n", SecretRaw, "s3cr3t\n", ""}, // raw means exactly the bytes
		{" c2VjcmV0LWtleQ==\n", SecretBase64, "secret-key", ""},
		{"c2VjcmV0LWtleQ", SecretBase64, "secret-key", ""},
		{"-_8", SecretBase64URL, "\xfb\xff", ""},
		{"-_8=", SecretBase64URL, "\xfb\xff", ""},
		{"+/8=", SecretBase64, "\xfb\xff", ""},
		{"+/8", SecretBase64URL, "", "secret is not base64url"},
		{"abc", "hex", "", `unknown secret encoding "hex"`},
	}
	for _, tc := range tests {
		got, err := DecodeSecret([]byte(tc.text), tc.enc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("DecodeSecret(%q, %s): err %v, want %q", tc.text, tc.enc, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("DecodeSecret(%q, %s) = %q, %v; want %q", tc.text, tc.enc, got, err, tc.want)
		}
	}
	if _, err := NewHMACKey(nil, SecretRaw, "$EMPTY"); err == nil || !strings.Contains(err.Error(), "$EMPTY: the HMAC secret is empty") {
		t.Errorf("empty secret: %v", err)
	}
}

func TestHMACKeySources(t *testing.T) {
	env := map[string]string{"WOLEET_SECRET": b64(secret32), "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	k, err := HMACKeyFromEnv("WOLEET_SECRET", SecretBase64URL, lookup)
	if err != nil || k.Description != "HMAC secret from $WOLEET_SECRET (32 bytes)" || string(k.material.([]byte)) != secret32 {
		t.Fatalf("key %v, err %v", k, err)
	}
	for _, name := range []string{"MISSING", "EMPTY"} {
		if _, err := HMACKeyFromEnv(name, SecretRaw, lookup); err == nil || !strings.Contains(err.Error(), name+" is not set") {
			t.Errorf("%s: %v", name, err)
		}
	}
	path := filepath.Join(t.TempDir(), "secret.b64")
	if err := os.WriteFile(path, []byte(b64(secret32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err = LoadHMACKeyFile(path, SecretBase64URL)
	if err != nil || k.Size() != 256 {
		t.Fatalf("file: %v", err)
	}
	if _, err := Verify(mustParse(t, hs256(okHeader, woleetClaims, []byte(secret32))), NewKeySet(k), VerifyOptions{}); err != nil {
		t.Error(err)
	}
	if _, err := LoadHMACKeyFile(path+".missing", SecretRaw); err == nil {
		t.Error("no error for a missing file")
	}
}
