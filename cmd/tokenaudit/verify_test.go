package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// longAgo is a leeway that makes the RFC examples (expired in 2011) valid.
const longAgo = "200000h"

func vec(name string) string { return filepath.Join(vectorDir, name) }

func TestVerifyEverySignedVector(t *testing.T) {
	// other is a key of the same family that did not sign the token.
	tests := []struct {
		token, keyFlag, key, alg, other string
	}{
		{"rfc7515_A.1.jwsc", "--key", "rfc7515_A.1.jwk", "HS256", "rfc7520_4.4.jwk"},
		{"rfc7515_A.2.jwsc", "--key", "rfc7515_A.2.pub.pem", "RS256", "rfc7520_4.1.jwk"},
		{"rfc7515_A.2.jwsc", "--key", "rfc7515_A.2.jwk", "RS256", "rfc7520_4.1.jwk"},
		{"rfc7515_A.3.jwsc", "--key", "rfc7515_A.3.pub.pem", "ES256", "rfc7517_A.1.jwkset"},
		{"rfc7515_A.4.jwsc", "--key", "rfc7515_A.4.jwk", "ES512", "rfc7520_4.3.jwk"},
		{"rfc7515_A.6.jwsg", "--jwks", "rfc7515_A.6.jwkset", "RS256", "rfc7517_A.1.jwkset"},
		{"rfc7515_A.7.jwsf", "--key", "rfc7515_A.7.jwk", "ES256", "rfc7517_A.1.jwkset"},
		{"rfc7520_4.1.jwsc", "--key", "rfc7520_4.1.jwk", "RS256", "rfc7515_A.2.pub.pem"},
		{"rfc7520_4.2.jwsc", "--key", "rfc7520_4.2.jwk", "PS384", "rfc7515_A.2.pub.pem"},
		{"rfc7520_4.3.jwsc", "--key", "rfc7520_4.3.jwk", "ES512", "rfc7515_A.4.jwk"},
		{"rfc7520_4.4.jwsc", "--key", "rfc7520_4.4.jwk", "HS256", "rfc7515_A.1.jwk"},
	}
	for _, tt := range tests {
		t.Run(tt.token+"+"+tt.key, func(t *testing.T) {
			r := cli(t, "", nil, "verify", "@"+vec(tt.token), tt.keyFlag, vec(tt.key), "--leeway", longAgo, "--format", "jsonl")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			var rec struct {
				Verified struct {
					Valid, Genuine bool
					Alg, Key       string
				}
			}
			if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
				t.Fatal(err)
			}
			if !rec.Verified.Valid || !rec.Verified.Genuine || rec.Verified.Alg != tt.alg || !strings.Contains(rec.Verified.Key, tt.key) {
				t.Errorf("verified = %+v, want alg %s by %s", rec.Verified, tt.alg, tt.key)
			}

			// Another key of the same family: not genuine, exit 3.
			cli(t, "", nil, "verify", "@"+vec(tt.token), "--key", vec(tt.other), "--leeway", longAgo).want(t, 3,
				[]string{"NOT VALID"}, nil)
		})
	}
}

func TestVerifyExitStatuses(t *testing.T) {
	a1 := vec("rfc7515_A.1.jwsc")
	// Genuine but expired (exp 2011): 4, saying so.
	cli(t, "", nil, "verify", "@"+a1, "--key", vec("rfc7515_A.1.jwk")).want(t, 4,
		[]string{"NOT VALID: genuine, but expired", "verified by", "HS256"},
		[]string{"token expired"})

	// A flipped payload byte: 3.
	raw, _ := os.ReadFile(a1)
	parts := strings.Split(strings.TrimSpace(string(raw)), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload[len(payload)-2] ^= 0x01
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	cli(t, "", nil, "verify", tampered, "--key", vec("rfc7515_A.1.jwk"), "--leeway", longAgo).want(t, 3,
		[]string{"the signature does not verify"}, []string{"signature not valid"})

	// No key: usage, 1. An unreadable key: 1. A malformed token: 2.
	cli(t, "", nil, "verify", tampered).want(t, 1, nil, []string{"verify needs a key"})
	cli(t, "", nil, "verify", tampered, "--key", "/nonexistent.pem").want(t, 1, nil, []string{"/nonexistent.pem"})
	cli(t, "", nil, "verify", "a.b", "--key", vec("rfc7515_A.1.jwk")).want(t, 2, nil, []string{"wrong number of parts"})
}

func TestVerifyRefusesAlgorithmConfusion(t *testing.T) {
	// The forgery two popular tools accept: HS256 with the RSA public key's
	// PEM bytes as the MAC secret.
	pem, err := os.ReadFile(vec("rfc7515_A.2.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(`{"sub":"admin","cdata":"forged"}`))
	mac := hmac.New(sha256.New, pem)
	mac.Write([]byte(signingInput))
	forged := signingInput + "." + enc.EncodeToString(mac.Sum(nil))

	r := cli(t, "", nil, "verify", forged, "--key", vec("rfc7515_A.2.pub.pem"))
	r.want(t, 3, []string{"NOT VALID", "critical alg-confusion", "possible forgery"}, []string{"algorithm confusion"})
	r = cli(t, "", nil, "verify", forged, "--key", vec("rfc7515_A.2.pub.pem"), "--format", "json")
	if !strings.Contains(r.stdout, `"id":"alg-confusion"`) || !strings.Contains(r.stdout, `"genuine":false`) {
		t.Errorf("json lacks the finding:\n%s", r.stdout)
	}
}

func TestVerifyHMACSecretsFromEnvAndFile(t *testing.T) {
	secret := []byte("a-32-byte-secret-for-hs256-test!")
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(`{"sub":"u","iat":1764320000,"jti":"j","cdata":"acme"}`))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signingInput))
	tok := signingInput + "." + enc.EncodeToString(mac.Sum(nil))

	cli(t, "", []string{"HMAC=" + enc.EncodeToString(secret)}, "verify", tok, "--secret-env", "HMAC", "--secret-encoding", "base64url").
		want(t, 0, []string{"valid: genuine and valid now", "no-expiry: no exp claim, valid until revoked", "cdata        acme"}, nil)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, "", nil, "verify", tok, "--secret-file", file).want(t, 0, []string{"verified by"}, nil)

	// A 16-byte secret is too short for HS256.
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, secret[:16], 0o600)
	cli(t, "", nil, "verify", tok, "--secret-file", short).want(t, 3, []string{"weak-hmac-key"}, nil)

	// Secrets never reach the output.
	r := cli(t, "", []string{"HMAC=" + string(secret)}, "verify", tok, "--secret-env", "HMAC", "--format", "json")
	if strings.Contains(r.stdout+r.stderr, string(secret)) {
		t.Errorf("the secret was printed")
	}
}
