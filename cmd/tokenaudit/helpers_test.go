package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// fingerprintOf computes a fingerprint independently of jwtinspect.
func fingerprintOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }
