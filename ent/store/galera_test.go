package store_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestGaleraCluster checks the harness: a row written on node 1 is read on nodes 2 and 3, and a
// killed node rejoins and catches up with what was written while it was down. And a pool whose
// DSN lists several nodes moves to the next one when its node is killed.
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
	// A pool whose DSN lists node 2, then node 1, connects to node 2, and moves to node 1 while
	// node 2 is down.
	ctx := context.Background()
	pool, err := store.Open(ctx, store.MySQL, c.NodesDSN(1, 0), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	nodeName := func() (string, error) {
		var name string
		err := pool.SQL.QueryRowContext(ctx, "SELECT @@wsrep_node_name").Scan(&name)
		return name, err
	}
	if name, err := nodeName(); err != nil || name != "node2" {
		t.Fatalf("a pool listing node 2 first reads from %q (%v)", name, err)
	}
	c.Kill(1)
	killed := time.Now()
	for {
		name, err := nodeName()
		if err == nil && name == "node1" {
			break
		}
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("the pool did not move to node 1 within 15 s of node 2's end: %q, %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the pool moved to node 1 %s after node 2 was killed", time.Since(killed).Round(time.Millisecond))
	for k := range 50 {
		if name, err := nodeName(); err != nil || name != "node1" {
			t.Fatalf("read %d after the move: %q, %v", k, name, err)
		}
	}
	if _, err := n3.Exec("INSERT INTO kv VALUES (2, 2)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Start(1)
	c.WaitClusterSynced()
	t.Logf("node 2 rejoined in %s", time.Since(start).Round(time.Millisecond))
	count("node 2 after rejoin", n2, 2)
	// A node cut off from the cluster (non-primary: wsrep_ready OFF) accepts connections but not
	// statements: a pool listing it first connects to the next node.
	if _, err := n2.Exec("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var name, ready string
		if err := n2.QueryRow("SHOW STATUS LIKE 'wsrep_ready'").Scan(&name, &ready); err == nil && ready == "OFF" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 2 still ready 15 s after it was isolated")
		}
	}
	isolated, err := store.Open(ctx, store.MySQL, c.NodesDSN(1, 0), store.Options{})
	if err != nil {
		t.Fatalf("open a pool listing the isolated node first: %v", err)
	}
	defer isolated.Close()
	var name string
	if err := isolated.SQL.QueryRowContext(ctx, "SELECT @@wsrep_node_name").Scan(&name); err != nil || name != "node1" {
		t.Fatalf("a pool listing the isolated node 2 first reads from %q (%v), want node1", name, err)
	}
	// It caught up by IST, from the position recovered from its InnoDB log, not by a full copy.
	if log := c.Log(1); !strings.Contains(log, "IST received") {
		t.Errorf("node 2 did not rejoin by IST:\n%s", log[max(0, len(log)-3000):])
	}
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
	// Galera replicates InnoDB tables only, and needs a primary key in each.
	rows, err := dbs[0].SQL.QueryContext(ctx, `SELECT t.table_name, t.engine FROM information_schema.tables t
		WHERE t.table_schema = DATABASE() AND (t.engine <> 'InnoDB' OR NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c
		WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY'))`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		t.Errorf("table %s (%s): not InnoDB, or no primary key", name, engine)
	}
	rows.Close()
	for i, db := range dbs {
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Behind() || st.Current != files[len(files)-1].Version() {
			t.Errorf("node %d: at %q (pending %v, dirty %q), want %s", i+1, st.Current, st.Pending, st.Dirty, files[len(files)-1].Version())
		}
	}

	// A holder that died leaves its lease: the next migration waits until it expires, then
	// takes the lock.
	if _, err := dbs[0].SQL.ExecContext(ctx, "UPDATE `"+store.LeaseTable+"` SET holder = 'dead', expires = UTC_TIMESTAMP(6) + INTERVAL 2 SECOND"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := dbs[2].MigrateUp(ctx); err != nil {
		t.Fatalf("migrate after a dead holder: %v", err)
	}
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Errorf("migrate took the lock of a live lease after %s", waited)
	}
	var holder string
	if err := dbs[1].SQL.QueryRowContext(ctx, "SELECT holder FROM `"+store.LeaseTable+"`").Scan(&holder); err != nil || holder != "" {
		t.Errorf("lock holder after the migration: %q (%v), want none", holder, err)
	}
}

// TestGaleraConflictRetried updates one row from two nodes at once: the write set that loses
// certification fails its commit with 1213, which IsDeadlock reports and Retry runs again, so
// that every increment lands.
func TestGaleraConflictRetried(t *testing.T) {
	c := storetest.Galera(t)
	ctx := context.Background()
	nodes := []*sql.DB{c.Open(0), c.Open(1)}
	if _, err := nodes[0].Exec("CREATE TABLE kv (k INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Exec("INSERT INTO kv VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	const per = 100
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4*per)
	for _, db := range nodes {
		for range 2 {
			wg.Go(func() {
				for range per {
					// Four writers of one row: on a loaded machine one may lose many rounds in a
					// row, so the attempts are many more than a write path's.
					err := store.Retry(ctx, 100, 2*time.Millisecond, store.IsDeadlock, func() error {
						tx, err := db.BeginTx(ctx, nil)
						if err != nil {
							return err
						}
						defer tx.Rollback()
						var v int
						if err := tx.QueryRow("SELECT v FROM kv WHERE k = 1 FOR UPDATE").Scan(&v); err != nil {
							if store.IsDeadlock(err) {
								conflicts.Add(1)
							}
							return err
						}
						if _, err := tx.Exec("UPDATE kv SET v = ? WHERE k = 1", v+1); err != nil {
							if store.IsDeadlock(err) {
								conflicts.Add(1)
							}
							return err
						}
						err = tx.Commit()
						if store.IsDeadlock(err) {
							conflicts.Add(1)
						}
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	var v int
	if err := nodes[1].QueryRow("SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil || v != 4*per {
		t.Fatalf("v = %d (%v), want %d", v, err, 4*per)
	}
	if conflicts.Load() == 0 {
		t.Fatal("no certification conflict happened: the test proves nothing")
	}
	t.Logf("%d certification conflicts retried", conflicts.Load())
}
