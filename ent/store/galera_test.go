package store_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/community/sso/ent/store/storetest"
)

// TestGaleraCluster checks the harness: a row written on node 1 is read on nodes 2 and 3, and a
// killed node rejoins and catches up with what was written while it was down.
func TestGaleraCluster(t *testing.T) {
	c := storetest.Galera(t)
	n1, n2, n3 := c.Open(0), c.Open(1), c.Open(2)
	if _, err := n1.Exec("CREATE TABLE kv (k INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Exec("INSERT INTO kv VALUES (1, 1)"); err != nil {
		t.Fatal(err)
	}
	count := func(name string, db *sql.DB, want int) {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM kv").Scan(&n); err != nil || n != want {
			t.Fatalf("%s: %d rows, %v; want %d", name, n, err, want)
		}
	}
	count("node 2", n2, 1)
	count("node 3", n3, 1)
	c.Kill(1)
	if _, err := n3.Exec("INSERT INTO kv VALUES (2, 2)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Start(1)
	c.WaitClusterSynced()
	t.Logf("node 2 rejoined in %s", time.Since(start).Round(time.Millisecond))
	count("node 2 after rejoin", n2, 2)
}
