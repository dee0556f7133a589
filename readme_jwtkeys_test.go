package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
)

// TestJWTKeysGoExample runs the Go signing code of docs/JWT_KEYS.md as it stands (a plain block,
// the docs test takes no go blocks) with keys written as openssl genpkey writes them (PKCS #8
// PEM), and checks that the community verifies its HS256, RS256 and ES256 tokens with the
// secret and the public keys, each with the key the page says.
func TestJWTKeysGoExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	page := readFile(t, "docs/JWT_KEYS.md")
	_, after, ok := strings.Cut(page, "## Your side: Go (golang-jwt)")
	if !ok {
		t.Fatal("docs/JWT_KEYS.md has no Go section")
	}
	_, after, _ = strings.Cut(after, "\n```\n")
	code, _, ok := strings.Cut(after, "\n```\n")
	if !ok {
		t.Fatal("the Go section has no plain block")
	}
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var pubs []string
	for name, k := range map[string]any{"rs256": rsaKey, "es256": ecKey} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, pub := range []any{&rsaKey.PublicKey, &ecKey.PublicKey} {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		pubs = append(pubs, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	const secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	program := "package main\n\n" + code + `
func main() {
	for _, sign := range []func(jwt.MapClaims) (string, error){signHS256, signRS256, signES256} {
		tok, err := sign(claims(1003, "kim@example.com", "Kim Park"))
		if err != nil {
			panic(err)
		}
		println(tok)
	}
}
`
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sign")
	root, _ := os.Getwd()
	build := exec.Command("go", "build", "-o", bin, src)
	build.Dir = root // the project's module supplies golang-jwt
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the page's Go code does not build: %v\n%s\n%s", err, out, program)
	}
	run := exec.Command(bin)
	run.Dir = dir
	run.Env = append(os.Environ(), "JWT_SECRET="+secret)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	tokens := strings.Fields(stderr.String()) // println writes to stderr
	if len(tokens) != 3 {
		t.Fatalf("printed %q", stderr.String())
	}
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st := &ent.Settings{JwtEnabled: true, JwtSecret: sealer.Seal(jwtsso.PurposeSecret, []byte(secret)), JwtPublicKeys: pubs, JwtMaxTokenAgeSeconds: 300}
	v := &jwtsso.Verifier{Sealer: sealer}
	for i, want := range []string{jwtsso.KeySecret, "public key 1", "public key 2"} {
		tok, serr := v.Verify(tokens[i], st)
		if serr != nil || tok.Key != want || tok.Claims["sub"] != "1003" || tok.JTI == "" {
			t.Errorf("token %d: %+v %v, want key %q", i, tok, serr, want)
		}
	}
}
