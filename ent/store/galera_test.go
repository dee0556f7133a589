package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
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

// TestGaleraMigrateOnce starts three migrators at once, one per node, on a fresh database: the
// lock row lets one apply the files (each exactly once) while the others wait, and all end at
// the same revision without an error.
func TestGaleraMigrateOnce(t *testing.T) {
	c := storetest.Galera(t)
	ctx := context.Background()
	dbs := make([]*store.DB, c.Size())
	for i := range dbs {
		db, err := store.Open(ctx, store.MySQL, c.DSN(i), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if !db.Galera() {
			t.Fatalf("node %d: Galera() is false", i+1)
		}
		dbs[i] = db
	}
	dir, err := migrations.Dir(dialect.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	reports := make([]*store.MigrationReport, len(dbs))
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = db.MigrateUp(ctx)
		}()
	}
	wg.Wait()
	applied := map[string]int{}
	for i := range dbs {
		if errs[i] != nil {
			t.Fatalf("node %d: migrate: %v", i+1, errs[i])
		}
		for _, f := range reports[i].Applied {
			applied[f]++
		}
	}
	if len(applied) != len(files) {
		t.Fatalf("applied %d distinct files, want %d: %v", len(applied), len(files), applied)
	}
	for f, n := range applied {
		if n != 1 {
			t.Errorf("%s applied %d times", f, n)
		}
	}
	for i, db := range dbs {
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Behind() || st.Current != files[len(files)-1].Version() {
			t.Errorf("node %d: at %q (pending %v, dirty %q), want %s", i+1, st.Current, st.Pending, st.Dirty, files[len(files)-1].Version())
		}
	}
}
