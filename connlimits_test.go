package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community/sso/ent/store/storetest"
)

// TestConnLimits holds connections open the way a slowloris attack does, against the real
// routes with short limits, and checks the server cuts every one of them in time.
func TestConnLimits(t *testing.T) {
	limits := connLimits{
		ReadHeader:     300 * time.Millisecond,
		Read:           700 * time.Millisecond,
		Write:          2 * time.Second,
		Idle:           500 * time.Millisecond,
		MaxHeaderBytes: 8 << 10,
	}
	const slack = time.Second // scheduling on a busy machine
	app := newAppWith(t, storetest.SQLite(t), nil, deps{ConnLimits: &limits})
	addr := strings.TrimPrefix(app.URL, "http://")

	// hold opens n connections, writes head at once, then one byte of drip every 50 ms until
	// the server closes the connection; it returns how long the slowest connection lasted.
	hold := func(t *testing.T, n int, head, drip string) time.Duration {
		t.Helper()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			longest time.Duration
		)
		for range n {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			start := time.Now()
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			closed := make(chan struct{})
			wg.Add(2)
			go func() { // the server's answer, if any, then EOF or a reset
				defer wg.Done()
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(io.Discard, conn)
				mu.Lock()
				longest = max(longest, time.Since(start))
				mu.Unlock()
				close(closed)
			}()
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-closed:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := io.WriteString(conn, string(drip[i%len(drip)])); err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		return longest
	}

	t.Run("slow headers are cut after ReadHeader", func(t *testing.T) {
		got := hold(t, 30, "GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: aaaaaaaaa\r\n")
		if got < limits.ReadHeader-50*time.Millisecond || got > limits.ReadHeader+slack {
			t.Fatalf("the slowest connection lasted %v, ReadHeader is %v", got, limits.ReadHeader)
		}
	})
	t.Run("slow bodies are cut after Read", func(t *testing.T) {
		head := "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
		got := hold(t, 30, head, `{"query":"{ __typename }"}                    `)
		if got < limits.Read-50*time.Millisecond || got > limits.Read+slack {
			t.Fatalf("the slowest connection lasted %v, Read is %v", got, limits.Read)
		}
	})
	t.Run("idle keep-alive connections are cut after Idle", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, br)
		if got := time.Since(start); got < limits.Idle-50*time.Millisecond || got > limits.Idle+slack {
			t.Fatalf("the idle connection lasted %v, Idle is %v", got, limits.Idle)
		}
	})
	t.Run("large headers are refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, app.URL+"/healthz", nil)
		req.Header.Set("X-Big", strings.Repeat("a", limits.MaxHeaderBytes+8<<10))
		if r := app.do(nil, req); r.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", r.Status)
		}
		req.Header.Set("X-Big", strings.Repeat("a", limits.MaxHeaderBytes/2))
		if r := app.do(nil, req); r.Status != http.StatusOK {
			t.Fatalf("status %d for headers under the limit", r.Status)
		}
	})
}

// TestConnLimitsDocumented keeps the list of connection limits in docs/SECURITY.md true.
func TestConnLimitsDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	l := defaultConnLimits
	for _, want := range []string{
		fmt.Sprintf("headers: %d s (`ReadHeaderTimeout`), at most %d KiB (`MaxHeaderBytes`", int(l.ReadHeader.Seconds()), l.MaxHeaderBytes>>10),
		fmt.Sprintf("body: %d s (`ReadTimeout`", int(l.Read.Seconds())),
		fmt.Sprintf("answer: %d s from the end of the headers (`WriteTimeout`)", int(l.Write.Seconds())),
		fmt.Sprintf("next request: %d s (`IdleTimeout`)", int(l.Idle.Seconds())),
	} {
		if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), want) {
			t.Errorf("docs/SECURITY.md does not say %q", want)
		}
	}
}
