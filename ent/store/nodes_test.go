package store_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestNodesDSN: a DSN whose tcp(...) address lists several nodes is opened on the network that
// tries them in turn, each address with its port; any other DSN is left as it is.
func TestNodesDSN(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"u:p@tcp(a:3306)/db?parseTime=true", "u:p@tcp(a:3306)/db?parseTime=true"},
		{"u:p@tcp(a:3306,b:3307)/db?parseTime=true", "u:p@tcp-nodes(a:3306,b:3307)/db?parseTime=true"},
		{"u:p@tcp(a, b:3307,[::1])/db", "u:p@tcp-nodes(a:3306,b:3307,[::1]:3306)/db"},
		{"u:p@w,d@tcp(a,b)/db", "u:p@w,d@tcp-nodes(a:3306,b:3306)/db"},
		{"u:p@unix(/run/mysqld.sock)/db", "u:p@unix(/run/mysqld.sock)/db"},
		{"/db", "/db"},
	} {
		if got := store.NodesDSNOf(tt.in); got != tt.want {
			t.Errorf("NodesDSNOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenSeveralNodes: a pool whose DSN lists a node that refuses connections before the
// server connects to the server; one whose nodes all refuse fails to open, without the
// password in its error.
func TestOpenSeveralNodes(t *testing.T) {
	dsn := storetest.NewMySQLDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("TEST_MYSQL_DSN is not a TCP address (%s)", cfg.Net)
	}
	closed := closedPort(t)
	ctx := context.Background()

	listed := *cfg
	listed.Addr = closed + "," + cfg.Addr
	db, err := store.Open(ctx, store.MySQL, listed.FormatDSN(), store.Options{})
	if err != nil {
		t.Fatalf("open with a dead node listed first: %v", err)
	}
	defer db.Close()
	for k := range 5 {
		var one int
		if err := db.SQL.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("query %d: %v", k, err)
		}
	}

	dead := *cfg
	dead.Passwd = "s3cret-pw"
	dead.Addr = closed + "," + closedPort(t)
	if db, err := store.Open(ctx, store.MySQL, dead.FormatDSN(), store.Options{}); err == nil {
		db.Close()
		t.Fatal("opened a pool whose nodes all refuse")
	} else if !strings.Contains(err.Error(), "no node") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error: %v", err)
	}
}

// closedPort is a loopback address that refuses connections.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
